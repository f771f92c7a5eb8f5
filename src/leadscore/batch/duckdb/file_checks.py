"""Parquet inputs of the batch engine checked by the rules of `leadscore.io`, in SQL.

Text files go through the project's reader (file_rows.py); Parquet stays in DuckDB for speed, so
the reader's rules that decide whether a row is taken are checked here, in one scan, and a bad row
refuses the input named as the reader names it (`file:row N:field: message`, DataFileError):

- lead id, event type: present, not blank; ids and types at most MAX_ID_CHARS characters;
- a lead id or event id is text or a whole number; an event type is text;
- the timestamp is present and within the years 1 to 9999 (UTC);
- no NUL character in any text column; lead ids unique in the leads.

The same scan tells whether the id and type columns are plain: text that stripping leaves as it is
(nothing to strip at either end). The views then read them as stored: a strip per row and column
was a large part of every later pass over the events (`sources.prepare`).

A Parquet file whose columns the reader types differently from DuckDB (a timestamp stored as
text, for one), or that has a nested column (struct, list, map: its depth and the NUL characters
inside it are checked by the reader), is read by the reader itself instead (`needs_reader`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from leadscore.batch.duckdb.file_schemas import column_types, differing_types, list_files, scan_sql
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
    return scan_sql(files, "filename = true", "file_row_number = true")


def _nested(typ: str) -> bool:
    """A struct, list, array, map or union column (DuckDB's type names: `STRUCT(...)`, `T[]`, `T[3]`...)."""
    return typ.endswith("]") or typ.startswith(("STRUCT", "MAP", "UNION"))


def needs_reader(con: duckdb.DuckDBPyConnection, files: list[str], kind: str) -> bool:
    """Whether the reader must read these files: a timestamp that is not a time type, a nested
    column (its depth and the NUL characters inside it are the reader's rules, which SQL cannot
    check in one scan whatever the shape), or a column that two files store as different kinds of
    value (one common type would change them: `file_schemas.differing_types`)."""
    if differing_types(con, files) is not None:
        return True
    types = column_types(con, _relation(files))
    if any(_nested(typ) for typ in types.values()):
        return True
    if kind != "events":
        return False
    typ = types.get("timestamp")
    return typ is not None and typ not in _TIMES


# The characters Python's str.strip() removes (str.isspace), as `leadscore.io.values.id_text` strips ids:
# written out, as finding them in the 1.1M code points took 0.04 to 0.1 CPU s at every import (a test
# compares the two).
STRIPPED = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def strip_sql(expr: str) -> str:
    """`expr` stripped as Python's str.strip() strips it (DuckDB's trim() alone keeps tabs and newlines)."""
    return f"trim({expr}, {q.text(STRIPPED)})"


def edge_sql(expr: str) -> str:
    """Whether a text value may have something to strip: its first or last character is a control
    character, a space or not ASCII (a superset of what strip removes; comparisons only, no copy).
    The empty text has nothing to strip (an empty id is missing: checked, or NULL in the views).

    The last character is taken once (`NOT BETWEEN`: for one character, `> '~'` is `>= chr(127)`): taking
    it twice, as `c < '!' OR c >= chr(127)` did, cost 0.85 of the test's 3.4 CPU s over 50M event ids."""
    e = f"({expr})"
    return f"({e} <> '' AND ({e} < '!' OR {e} >= chr(127) OR {e}[-1] NOT BETWEEN '!' AND '~'))"


def _id_checks(col: str, typ: str, what: str, required: bool) -> list[tuple[str, str, str]]:
    """(condition of a bad row, message, a cheaper condition that every bad row meets) per check."""
    c = q.ident(col)
    checks: list[tuple[str, str, str]] = []
    if required:
        checks.append((f"{c} IS NULL", f"missing {what}", f"{c} IS NULL"))
    if typ == "VARCHAR":
        if required:
            # blank: empty, or only characters strip removes (then its edge is one of them: the scan's
            # filter holds `edge_sql` of every text id and type, check_parquet)
            checks.append((f"{strip_sql(c)} = ''", f"missing {what}", f"{c} = ''"))
        # a character takes at least one byte
        too_long = f"length({strip_sql(c)}) > {MAX_ID_CHARS}"
        checks.append((too_long, f"{what} longer than {MAX_ID_CHARS} characters", f"strlen({c}) > {MAX_ID_CHARS}"))
    elif typ in ("DOUBLE", "FLOAT") or typ.startswith("DECIMAL"):
        checks.append((f"{c} <> floor({c})", f"not a valid {what} (expected text or a whole number)", ""))
    elif typ not in _INTEGER:
        checks.append((f"{c} IS NOT NULL", f"not a valid {what} (expected text or a whole number)", ""))
    return [(cond, msg, pre or cond) for cond, msg, pre in checks]


def _time_range(ts: str, typ: str) -> str:
    """A time outside the years 1 to 9999 (UTC). Compared as stored where the type allows: DuckDB then
    skips the row groups whose statistics lie inside, instead of converting every value."""
    if typ == "TIMESTAMP WITH TIME ZONE":
        return f"({ts} < TIMESTAMPTZ '0001-01-01 00:00:00+00' OR {ts} > TIMESTAMPTZ '9999-12-31 23:59:59.999999+00')"
    if typ == "TIMESTAMP":
        return f"({ts} < TIMESTAMP '0001-01-01 00:00:00' OR {ts} > TIMESTAMP '9999-12-31 23:59:59.999999')"
    micros = f"epoch_us(CAST({ts} AS TIMESTAMP))"
    return f"({micros} < {_FIRST_US} OR {micros} > {_LAST_US})"


# the columns whose text the views strip (`sources.prepare`): ids and the event type
STRIPPED_COLUMNS = {"events": ("lead_id", "id", "type"), "leads": ("id", "lead_id")}


def check_parquet(con: duckdb.DuckDBPyConnection, files: list[str], kind: str) -> bool:
    """Raise DataFileError naming the rows the reader would refuse (up to MAX_SHOWN, and how many).

    Returns whether every id and type column is plain: text with nothing to strip, in every row."""
    relation = _relation(files)
    types = column_types(con, relation)
    checks, edges, plain = _conditions(types, kind)
    if _clean(con, files, checks, edges, types, kind):
        return plain
    found, total, edgy = _bad_rows(con, relation, checks, edges)
    if kind == "leads":
        repeated, more = _repeated_ids(
            con, relation, "id" if "id" in types else "lead_id", {(e.file, e.line) for e in found}
        )
        found, total = sorted([*found, *repeated], key=lambda e: (e.file, e.line or 0)), total + more
    if total:
        raise DataFileError(found[:MAX_SHOWN], total)
    return plain and not edgy


def _clean(
    con: duckdb.DuckDBPyConnection,
    files: list[str],
    checks: list[tuple[str, str, str, str]],
    edges: list[str],
    types: dict[str, str],
    kind: str,
) -> bool:
    """Whether no row meets any check's cheap condition nor an edge test, and (leads) no id repeats:
    then `check_parquet` has nothing to name and nothing to strip, without its scan of every column.

    The conditions are ORed per column, one scan each (`_any_row_sql`): a condition on one column of
    the Parquet scan is pushed into DuckDB's reader, which tests a dictionary-encoded page once per
    entry, where the OR of every column's conditions decoded every value of every text column (1M
    `leadscore generate` leads: 0.25 against 0.51 CPU s). A repeated id is a count of distinct ids."""
    by_column: dict[str, list[str]] = {}
    for col, _, _, pre in checks:
        by_column.setdefault(col, []).append(f"({pre})")
    for col, edge in zip([c for c in STRIPPED_COLUMNS[kind] if types.get(c) == "VARCHAR"], edges, strict=True):
        by_column.setdefault(col, []).append(edge)
    found = _any_row_sql(files, [q.any_of(conds) for conds in by_column.values()])
    if found is not None and con.execute(found).fetchall()[0][0]:
        return False
    if kind != "leads":
        return True
    key = "id" if "id" in types else "lead_id"
    if key not in types:  # no id column: nothing repeats; the views name the missing column (`sources`)
        return True
    k = f"CAST({q.ident(key)} AS VARCHAR)"
    row = con.execute(f"SELECT count({k}) = count(DISTINCT {k}) FROM {scan_sql(files)}").fetchall()
    return bool(row[0][0])


def _any_row_sql(files: list[str], conditions: list[str]) -> str | None:
    """A query counting the conditions some row meets, each a scan of its own that its first row ends."""
    if not conditions:
        return None
    parts = " UNION ALL ".join(f"(SELECT 1 FROM {scan_sql(files)} WHERE {cond} LIMIT 1)" for cond in conditions)
    return f"SELECT count(*) FROM ({parts})"


# The event columns whose types let the scoring query read a row before it is checked (its comparisons
# cannot fail on these types): the check then rides on the query's own pass (`row_check_sql`).
_FOLDABLE = {"lead_id": ("VARCHAR",), "type": ("VARCHAR",), "id": ("VARCHAR",), "timestamp": _TIMES}


def row_check_sql(
    con: duckdb.DuckDBPyConnection,
    files: list[str],
    ids_read: bool = True,
    reads: frozenset[str] | None = None,
    dictionary: DictionaryColumns | None = None,
) -> tuple[str, str, str | None, str | None] | None:
    """BOOLEANs that hold for every row `check_parquet` would refuse or find an id or type to strip in
    (and for a few good rows: the checks' cheap necessary conditions): (over a raw event row, over a
    lead id as the column LEAD_ID, over an event id). The scoring query computes the first in its own
    pass over the events and the second once per lead of its GROUP BY (the lead id's checks, once per
    lead instead of once per event); only when one holds does the run check the files by
    `check_parquet` (which names the rows, or tells the views to strip). With `ids_read` (the duplicate
    check reads every event id in a pass of its own) the event id's checks are the third, which that
    pass computes: the scoring pass then never reads the ids (they were a tenth of its CPU time, the
    edge tests of a text's last character the most of it). Without (`--dedupe never`: the ids are
    declared unique), the event ids are not checked at all: the single pass that uses this check reads
    no event id and no result it gives carries one (it scores no lifecycle, whose history names
    events: such a model's files are checked in full first), so an id the reader would refuse cannot
    reach the output, and the scan of 50M ids for it cost 1.6 to 1.9 CPU s, a seventh of a run; nor,
    given `reads`, are the text columns the model does not read, for the same reason. None when a
    column's type does not allow that (the files are checked first, as before).

    Given `reads` (the event columns the scoring pass reads), the row conditions that are cheaper in
    scans of their own leave the first BOOLEAN for the fourth, a query counting the rows they hold
    for (`apart_sql`); the run must look at it too before it trusts a result. `dictionary`: the run's
    `DictionaryColumns`, so that it reads the files' metadata once."""
    types = column_types(con, _relation(files))
    if any(col not in types or types[col] not in allowed for col, allowed in _FOLDABLE.items() if col != "id"):
        return None
    if "id" in types and types["id"] not in _FOLDABLE["id"]:
        return None
    checks, _, plain = _conditions(types, "events")
    if not plain:
        return None
    lead = q.ident("lead_id")
    on_lead = [f"({c[3]})" for c in checks if c[0] == "lead_id"] + [f"({edge_sql(lead)})"]
    apart = ids_read and "id" in types
    on_row = [(c[0], f"({c[3]})") for c in checks if c[0] not in ("lead_id", "id")]
    on_row.append(("type", f"({edge_sql(q.ident('type'))})"))
    on_id = None
    if apart:
        on_id = q.any_of([*(f"({c[3]})" for c in checks if c[0] == "id"), f"({edge_sql(q.ident('id'))})"])
    if not ids_read and reads is not None:
        # trusted ids (`--dedupe never`): as for the event ids, the single pass this check serves reads no
        # other column than `reads` and no result it gives carries one (no lifecycle history, no row to
        # the pure scorer, no content compared for copies), so a NUL in a text the model does not read
        # cannot reach the output: not looked for (the 400-character paths of the third benchmark data
        # set cost 0.19 CPU s per 10M events). A run whose query cannot take this check, or whose check
        # finds something, checks the files in full (`check_parquet`), those columns included.
        on_row = [(col, cond) for col, cond in on_row if col in reads]
    in_pass, scans = on_row, None
    if reads is not None:
        in_pass, scans = _split(con, files, on_row, reads, dictionary)
    return q.any_of([cond for _, cond in in_pass]), q.any_of(on_lead).replace(lead, LEAD_ID), on_id, scans


# Uncompressed bytes per value under which a column chunk is taken as dictionary-encoded (an index of a
# few bits per value, against at least the 4-byte length of a plain text value).
_DICTIONARY_BYTES = 4


def dictionary_columns(con: duckdb.DuckDBPyConnection, files: list[str]) -> frozenset[str]:
    """The columns of the files taken as dictionary-encoded (fewer than `_DICTIONARY_BYTES` uncompressed
    bytes per value, from the files' metadata alone): a filter on one is decided once per dictionary
    entry by DuckDB's reader, not once per row."""
    listed = "[" + ", ".join(q.text(f) for f in files) + "]"
    sizes = con.execute(
        f"SELECT path_in_schema, sum(total_uncompressed_size) / greatest(sum(num_values), 1) "
        f"FROM parquet_metadata({listed}) GROUP BY path_in_schema"
    ).fetchall()
    return frozenset(str(col) for col, per_value in sizes if per_value is not None and per_value < _DICTIONARY_BYTES)


class DictionaryColumns:
    """`dictionary_columns`, read once per list of files and kept as long as this object: a run makes
    one and hands it to both its users (the row check's split in `sources.prepare`, its eager look-ups:
    `dictionary_event_columns`), so that it reads the files' metadata once (0.03 CPU s, 0.06-0.09 s of
    wall on the mixed benchmark's events)."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, ...], frozenset[str]] = {}

    def __call__(self, con: duckdb.DuckDBPyConnection, files: list[str]) -> frozenset[str]:
        key = tuple(files)
        if key not in self._known:
            self._known[key] = dictionary_columns(con, files)
        return self._known[key]


def dictionary_event_columns(
    con: duckdb.DuckDBPyConnection, events: object, dictionary: DictionaryColumns | None = None
) -> frozenset[str]:
    """The events' dictionary-encoded columns (quoted names) when `events` names Parquet files, for
    `Lookups.eager`: a `contains` look-up's scan of one, filtered per dictionary entry, costs 0.01 CPU
    s per 10M events on the mixed benchmark's `source`; deferred, the look-up cost the query a test and
    an aggregate per event (whether the lead's filter is unknown), about a tenth of its CPU time."""
    if not isinstance(events, (str, Path)):
        return frozenset()
    path = Path(events)
    if not (path.is_dir() or path.suffix.lower() == ".parquet"):
        return frozenset()
    found = (dictionary or dictionary_columns)(con, parquet_sources(path))
    return frozenset(q.ident(col) for col in found)


def _split(
    con: duckdb.DuckDBPyConnection,
    files: list[str],
    on_row: list[tuple[str, str]],
    reads: frozenset[str],
    dictionary: DictionaryColumns | None = None,
) -> tuple[list[tuple[str, str]], str | None]:
    """(the row conditions the scoring pass keeps, a query counting the rows that meet the others).

    A condition in a WHERE clause on a column of the Parquet scan is pushed into DuckDB's reader, which
    evaluates it once per entry of a dictionary-encoded page (and skips the pages it rules out) and
    decides a time range from the row groups' statistics: 8 text columns the model does not read
    cost 0.02 CPU s per 5M events checked for NUL characters that way, against 0.38 inside the
    scoring pass, which must decode every value. So each condition on a dictionary-encoded column or
    on the time is a scan of its own; the conditions on a column the scoring pass does not read
    (the event ids with `--dedupe never`, texts stored plain) are one scan for that column, which
    the pass would have to decode anyway; the rest (plain texts the pass reads) stay in the pass,
    which decodes them anyway. Where a page is not what its column's size suggests, the condition is
    still exact: only its cost differs. Every scan is of one column, all its conditions in one OR: a
    condition of one column, however many terms, is still decided by the reader per dictionary entry
    or from the statistics, and each scan costs its reading of the column's pages (the five on the
    events' `type` 0.10 CPU s per 50M events as five scans, 0.04 as one)."""
    encoded = (dictionary or dictionary_columns)(con, files)
    keep: list[tuple[str, str]] = []
    by_column: dict[str, list[str]] = {}
    for col, cond in on_row:
        if col == "timestamp" or col in encoded or col not in reads:
            by_column.setdefault(col, []).append(cond)
        else:
            keep.append((col, cond))
    scans = [q.any_of(conds) for conds in by_column.values()]
    # LIMIT 1: a bad row ends its scan; the rows are then named by `check_parquet`
    return keep, _any_row_sql(files, scans)


# The column the lead-id part of `row_check_sql` reads: the lead id of a row of the scoring query.
LEAD_ID = "_ls_id"


def _conditions(types: dict[str, str], kind: str) -> tuple[list[tuple[str, str, str, str]], list[str], bool]:
    """(checks as (column, SQL condition of a bad row, message, prefilter), the id and type columns'
    `edge_sql`, whether every id and type column is text)."""
    checks: list[tuple[str, str, str, str]] = []  # (column, SQL condition of a bad row, message, prefilter)
    if kind == "events":
        for col, what, required in (("lead_id", "lead id", True), ("id", "event id", False)):
            if col in types:
                checks += [(col, cond, msg, pre) for cond, msg, pre in _id_checks(col, types[col], what, required)]
        if "type" in types:
            t = q.ident("type")
            checks.append(("type", f"{t} IS NULL", "missing event type", f"{t} IS NULL"))
            if types["type"] == "VARCHAR":
                checks.append(("type", f"{strip_sql(t)} = ''", "missing event type", f"{t} = ''"))
                checks.append(
                    (
                        "type",
                        f"length({strip_sql(t)}) > {MAX_ID_CHARS}",
                        "event type too long",
                        f"strlen({t}) > {MAX_ID_CHARS}",
                    )
                )
            else:
                checks.append(("type", f"{t} IS NOT NULL", "event type must be text", f"{t} IS NOT NULL"))
        typ = types.get("timestamp")
        if typ in _TIMES:
            ts = q.ident("timestamp")
            checks.append(("timestamp", f"{ts} IS NULL", "missing timestamp", f"{ts} IS NULL"))
            out_of_range = _time_range(ts, typ)
            checks.append(("timestamp", out_of_range, "timestamp out of range (years 1 to 9999 in UTC)", out_of_range))
    else:
        key = "id" if "id" in types else "lead_id"
        if key in types:
            checks += [(key, cond, msg, pre) for cond, msg, pre in _id_checks(key, types[key], "lead id", True)]
    internal = ("filename", "file_row_number")
    for col, typ in types.items():
        if typ == "VARCHAR" and col not in internal:
            nul = f"contains({q.ident(col)}, chr(0))"
            checks.append((col, nul, NUL_MESSAGE, nul))
    # a row whose id or type may need stripping passes the scan's filter too: it is refused when blank,
    # else it only makes the views strip
    keys = [c for c in STRIPPED_COLUMNS[kind] if c in types]
    edges = [edge_sql(q.ident(c)) for c in keys if types[c] == "VARCHAR"]
    return checks, edges, len(edges) == len(keys)


def _bad_rows(
    con: duckdb.DuckDBPyConnection, relation: str, checks: list[tuple[str, str, str, str]], edges: list[str]
) -> tuple[list[RowError], int, int]:
    """(the first bad rows, how many, how many other rows passed the filter: ids or types to strip)."""
    if not checks and not edges:
        return [], 0, 0
    # the first failing check of each row names it; CASE stops at the first true condition. The scan's
    # filter is the checks' cheap necessary conditions (no strip per row); CASE runs on the rows it keeps.
    which = "CASE " + " ".join(f"WHEN {cond} THEN {i}" for i, (_, cond, _, _) in enumerate(checks)) + " END"
    pre = " OR ".join(f"({p})" for p in [*(c[3] for c in checks), *edges])
    sql = f"SELECT filename, file_row_number, {which} AS bad FROM {relation} WHERE ({pre}) IS TRUE"
    count = con.execute(
        f"SELECT count(*) FILTER (WHERE bad IS NOT NULL), count(*) FILTER (WHERE bad IS NULL) FROM ({sql})"
    ).fetchone()
    total, edgy = (int(count[0]), int(count[1])) if count else (0, 0)
    if not total:
        return [], 0, edgy
    rows = con.execute(
        f"SELECT * FROM ({sql}) WHERE bad IS NOT NULL ORDER BY filename, file_row_number LIMIT {MAX_SHOWN}"
    ).fetchall()
    found = [RowError(str(f), int(n) + 1, checks[b][0], None, checks[b][2], by_row=True) for f, n, b in rows]
    return found, total, edgy


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
    return list_files(path)
