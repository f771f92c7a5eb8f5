"""Parquet inputs of the batch engine checked by the rules of `leadscore.io`, in SQL.

Text files go through the project's reader (file_rows.py); Parquet stays in DuckDB for speed, so
the reader's rules that decide whether a row is taken are checked here, in one scan, and a bad row
refuses the input named as the reader names it (`file:row N:field: message`, DataFileError):

- lead id, event type: present, not blank; ids and types at most MAX_ID_CHARS characters;
- a lead id or event id is text or a whole number; an event type is text;
- the timestamp is present and within the years 1 to 9999 (UTC);
- no NUL character in any text column; lead ids unique in the leads.

A Parquet file whose columns the reader types differently from DuckDB (a timestamp stored as
text, for one), or that has a nested column (struct, list, map: its depth and the NUL characters
inside it are checked by the reader), is read by the reader itself instead (`needs_reader`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from leadscore.io.errors import MAX_SHOWN, DataFileError, RowError
from leadscore.io.limits import MAX_ID_CHARS, NUL_MESSAGE
from leadscore.sql import literals as q

if TYPE_CHECKING:
    import duckdb

_FIRST_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
_LAST_US = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
_INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_TIMES = ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE")


def _relation(files: list[str]) -> str:
    listed = "[" + ", ".join(q.text(f) for f in files) + "]"
    return f"read_parquet({listed}, filename = true, file_row_number = true)"


def _types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {str(r[0]): str(r[1]).upper() for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()}


def _nested(typ: str) -> bool:
    """A struct, list, array, map or union column (DuckDB's type names: `STRUCT(...)`, `T[]`, `T[3]`...)."""
    return typ.endswith("]") or typ.startswith(("STRUCT", "MAP", "UNION"))


def needs_reader(con: duckdb.DuckDBPyConnection, files: list[str], kind: str) -> bool:
    """Whether the reader must read these files: a timestamp that is not a time type, or a nested
    column (its depth and the NUL characters inside it are the reader's rules, which SQL cannot
    check in one scan whatever the shape)."""
    types = _types(con, _relation(files))
    if any(_nested(typ) for typ in types.values()):
        return True
    if kind != "events":
        return False
    typ = types.get("timestamp")
    return typ is not None and typ not in _TIMES


def _id_checks(col: str, typ: str, what: str, required: bool) -> list[tuple[str, str]]:
    c = q.ident(col)
    checks: list[tuple[str, str]] = []
    if required:
        checks.append((f"{c} IS NULL", f"missing {what}"))
    if typ == "VARCHAR":
        if required:
            checks.append((f"trim({c}) = ''", f"missing {what}"))
        checks.append((f"length(trim({c})) > {MAX_ID_CHARS}", f"{what} longer than {MAX_ID_CHARS} characters"))
    elif typ in ("DOUBLE", "FLOAT") or typ.startswith("DECIMAL"):
        checks.append((f"{c} <> floor({c})", f"not a valid {what} (expected text or a whole number)"))
    elif typ not in _INTEGER:
        checks.append((f"{c} IS NOT NULL", f"not a valid {what} (expected text or a whole number)"))
    return checks


def check_parquet(con: duckdb.DuckDBPyConnection, files: list[str], kind: str) -> None:
    """Raise DataFileError naming the rows the reader would refuse (up to MAX_SHOWN, and how many)."""
    relation = _relation(files)
    types = _types(con, relation)
    checks: list[tuple[str, str, str]] = []  # (column, SQL condition of a bad row, message)
    if kind == "events":
        for col, what, required in (("lead_id", "lead id", True), ("id", "event id", False)):
            if col in types:
                checks += [(col, cond, msg) for cond, msg in _id_checks(col, types[col], what, required)]
        if "type" in types:
            t = q.ident("type")
            checks.append(("type", f"{t} IS NULL", "missing event type"))
            if types["type"] == "VARCHAR":
                checks.append(("type", f"trim({t}) = ''", "missing event type"))
                checks.append(("type", f"length(trim({t})) > {MAX_ID_CHARS}", "event type too long"))
            else:
                checks.append(("type", f"{t} IS NOT NULL", "event type must be text"))
        if types.get("timestamp") in _TIMES:
            ts = q.ident("timestamp")
            checks.append(("timestamp", f"{ts} IS NULL", "missing timestamp"))
            micros = f"epoch_us(CAST({ts} AS TIMESTAMP))"
            out_of_range = f"({micros} < {_FIRST_US} OR {micros} > {_LAST_US})"
            checks.append(("timestamp", out_of_range, "timestamp out of range (years 1 to 9999 in UTC)"))
    else:
        key = "id" if "id" in types else "lead_id"
        if key in types:
            checks += [(key, cond, msg) for cond, msg in _id_checks(key, types[key], "lead id", True)]
    internal = ("filename", "file_row_number")
    for col, typ in types.items():
        if typ == "VARCHAR" and col not in internal:
            checks.append((col, f"contains({q.ident(col)}, chr(0))", NUL_MESSAGE))
    found, total = _bad_rows(con, relation, checks)
    if kind == "leads":
        repeated, more = _repeated_ids(
            con, relation, "id" if "id" in types else "lead_id", {(e.file, e.line) for e in found}
        )
        found, total = sorted([*found, *repeated], key=lambda e: (e.file, e.line or 0)), total + more
    if total:
        raise DataFileError(found[:MAX_SHOWN], total)


def _bad_rows(
    con: duckdb.DuckDBPyConnection, relation: str, checks: list[tuple[str, str, str]]
) -> tuple[list[RowError], int]:
    if not checks:
        return [], 0
    # the first failing check of each row names it; CASE stops at the first true condition
    which = "CASE " + " ".join(f"WHEN {cond} THEN {i}" for i, (_, cond, _) in enumerate(checks)) + " END"
    sql = (
        f"SELECT filename, file_row_number, {which} AS bad FROM {relation} "
        f"WHERE ({' OR '.join(f'({cond})' for _, cond, _ in checks)}) IS TRUE"
    )
    count = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
    total = int(count[0]) if count else 0
    if not total:
        return [], 0
    rows = con.execute(f"{sql} ORDER BY filename, file_row_number LIMIT {MAX_SHOWN}").fetchall()
    found = [RowError(str(f), int(n) + 1, checks[b][0], None, checks[b][2], by_row=True) for f, n, b in rows]
    return found, total


def _repeated_ids(
    con: duckdb.DuckDBPyConnection, relation: str, key: str, bad: set[tuple[str, int | None]]
) -> tuple[list[RowError], int]:
    """Rows repeating the id of an earlier row the reader takes (a refused row's id is not remembered:
    `leadscore.io.convert.LeadConverter`). `bad`: the rows refused already, as (file, row)."""
    k = f"CAST({q.ident(key)} AS VARCHAR)"
    rows = con.execute(
        f"SELECT filename, file_row_number, {k} FROM {relation} WHERE {k} IN "
        f"(SELECT {k} FROM {relation} GROUP BY 1 HAVING count(*) > 1) ORDER BY filename, file_row_number"
    ).fetchall()
    seen: set[str] = set()
    found: list[RowError] = []
    for f, n, v in rows:
        if (str(f), int(n) + 1) in bad:
            continue
        if v in seen:
            found.append(RowError(str(f), int(n) + 1, key, v, f"duplicate lead id {v!r}", by_row=True))
        seen.add(v)
    return found, len(found)


def parquet_sources(path: Path) -> list[str]:
    """The Parquet files of a path (a file or a directory of them), as the batch engine lists them."""
    if path.is_dir():
        return sorted(str(p) for p in path.rglob("*.parquet"))
    return [str(path)]
