"""Inputs of the batch engine, registered in DuckDB as the two views the query reads: `leads`, `events`.

A source is a Parquet file, a directory of Parquet files, a text file (CSV, JSON Lines, JSON: read
by `leadscore.io` as every other command reads it, file_rows.py), or an in-memory table
(pyarrow / pandas). Input order, which decides duplicates (first seen wins) and ties in time, is
kept as `_ls_ord`: (file index, row number in the file) for files, the row index for tables.
This is the seam for the store: any relation with these columns can be registered the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.batch.duckdb.file_checks import DictionaryColumns, check_parquet, needs_reader, row_check_sql, strip_sql
from leadscore.batch.duckdb.file_rows import events_table, is_text_input, leads_table
from leadscore.batch.duckdb.file_schemas import list_files, scan_sql
from leadscore.batch.duckdb.id_files import ORD_FILE
from leadscore.io.convert import missing_columns_text
from leadscore.sql import literals as q
from leadscore.sql.columns import RESERVED_EVENT_COLUMNS, RESERVED_LEAD_COLUMNS, SourceSchema, TableSchema

if TYPE_CHECKING:
    import duckdb

Source = str | Path | Any  # a path, a pyarrow.Table or a pandas.DataFrame


class SourceError(ValueError):
    """An input that cannot be read, named with what was wrong."""


def _parquet_files(path: Path) -> list[str]:
    if path.is_dir():
        files = list_files(path)  # as the reader lists them: its .parquet files, not its sub-directories
        if not files:
            raise SourceError(f"{path}: no .parquet files in this directory")
        return files
    if not path.exists():
        raise SourceError(f"{path}: file not found")
    return [str(path)]


def files_relation(files: list[str], where: str = "") -> str:
    """The rows of Parquet files as the events view reads them, with their input order `_ls_ord`;
    `where`: a condition on the reader's `file_index` and `file_row_number` (DuckDB skips the row
    groups it rules out: `duplicates.py` reads a few rows by their order so)."""
    ord_expr = "file_row_number"
    if len(files) > 1:
        # the file's position in the list (DuckDB's virtual column), not a search of its name per row
        ord_expr = f"CAST(file_index AS BIGINT) * {ORD_FILE} + file_row_number"
    return (
        f"SELECT * EXCLUDE (file_row_number), {ord_expr} AS _ls_ord "
        f"FROM {scan_sql(files, 'file_row_number = true')}" + (f" WHERE {where}" if where else "")
    )


def _file_relation(path: Path) -> str:
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == ".parquet":
        return files_relation(_parquet_files(path))
    raise SourceError(
        f"{path}: unsupported input format {suffix or '(none)'}; use Parquet (file or directory), CSV or JSON Lines"
    )


def _table_relation(con: duckdb.DuckDBPyConnection, name: str, table: Any) -> str:
    import pyarrow as pa

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    if "_ls_ord" not in table.column_names:
        table = table.append_column("_ls_ord", pa.array(range(table.num_rows), pa.int64()))
    con.register(f"_ls_src_{name}", table)
    return f"SELECT * FROM _ls_src_{name}"


def register(
    con: duckdb.DuckDBPyConnection,
    name: str,
    source: Source,
    defer_check: bool = False,
    ids_read: bool = True,
    reads: frozenset[str] | None = None,
    dictionary: DictionaryColumns | None = None,
) -> tuple[bool, tuple[str, str, str | None, str | None] | None]:
    """Create the view `name` over the source (as-is; `prepare` adds the query's conventions).

    Returns whether its id and type columns are known to be plain text (nothing to strip: checked
    in the Parquet files' scan; the reader's tables and in-memory tables are not scanned for it), and,
    with `defer_check`, the condition of the events' rows the files' check must look at, when the
    scoring query is to compute it in its own pass instead of a scan first (`row_check_sql`, with the
    run's `dictionary`): the views then read the files as plain."""
    plain = False
    deferred: tuple[str, str, str | None, str | None] | None = None
    if isinstance(source, str | Path) and is_text_input(Path(source)):
        # text files are read by leadscore.io, with the checks and typing `score` applies (file_rows.py)
        if not Path(source).exists():
            raise SourceError(f"{source}: file not found")
        table = events_table(Path(source)) if name == "events" else leads_table(Path(source))
        rel = _table_relation(con, name, table)
    elif isinstance(source, str | Path):
        path = Path(source)
        rel = _file_relation(path)  # checks the path exists
        files = _parquet_files(path)
        try:
            reread = needs_reader(con, files, name)
        except Exception as exc:  # duckdb raises its own error types for unreadable files
            raise SourceError(f"{source}: cannot read {name}: {exc}") from None
        if reread:
            table = events_table(path) if name == "events" else leads_table(path)
            rel = _table_relation(con, name, table)
        else:
            if defer_check and name == "events":
                deferred = row_check_sql(con, files, ids_read, reads, dictionary)
            # the reader's rules, in SQL: a bad row refuses the input
            plain = True if deferred is not None else check_parquet(con, files, name)
    else:
        rel = _table_relation(con, name, source)
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _ls_file_{name} AS {rel}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW _ls_raw_{name} AS SELECT * FROM _ls_file_{name}")
    except Exception as exc:  # duckdb raises its own error types for unreadable files
        raise SourceError(f"{source}: cannot read {name}: {exc}") from None
    return plain, deferred


def _id_sql(column: str, sql_type: str, plain: bool = False) -> str:
    """An id column as text, as `leadscore.io.values.id_text` makes it: stripped; 17.0 is "17".
    A `plain` text column (nothing to strip in any row) is read as stored."""
    c = q.ident(column)
    typ = sql_type.upper()
    if typ in ("DOUBLE", "FLOAT", "REAL") or typ.startswith("DECIMAL"):
        return f"CAST(CAST({c} AS HUGEINT) AS VARCHAR)"
    if plain and typ == "VARCHAR":
        return c
    return strip_sql(f"CAST({c} AS VARCHAR)")


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()]


# The events view's column of `row_check_sql`, when the files' check waits for the scoring query.
ROW_CHECK = "_ls_chk"


def missing_columns(path: object, missing: list[str], found: Iterable[str], hint: str = "") -> SourceError:
    """The reader's refusal of a file without a required column (`io.convert.missing_columns_text`), so that
    `batch` and `score` refuse such a file alike; the input order `_ls_ord` is the engine's column, not the file's."""
    return SourceError(f"{path}: {missing_columns_text(missing, [c for c in found if c != '_ls_ord'], hint)}")


def prepare(
    con: duckdb.DuckDBPyConnection,
    leads: Source,
    events: Source,
    defer_check: bool = False,
    ids_read: bool = True,
    reads: frozenset[str] | None = None,
    stored: bool = False,
    dictionary: DictionaryColumns | None = None,
) -> SourceSchema:
    """Register both inputs as the views `leads` and `events`, checked and typed; returns their schema.

    With `defer_check`, the events' Parquet files may be checked by the scoring query's own pass: the
    view then has the column ROW_CHECK (`schema.row_check`), and the caller must look at it before it
    trusts any result (`register`). Given `reads` (the event columns the scoring pass reads), some of
    that check may be a query of its own instead (`schema.scan_check`, `file_checks.row_check_sql`).
    With `stored` (a store's export), ids and types are read as stored: its ingest wrote them checked,
    and the pure path scores the stored text (`store.codec.event_of`), so nothing is stripped.
    `dictionary`: the run's `file_checks.DictionaryColumns`, which it asks again (its look-ups)."""
    plain_leads, _ = register(con, "leads", leads)
    plain_events, row_check = register(con, "events", events, defer_check, ids_read, reads, dictionary)
    plain_leads, plain_events = plain_leads or stored, plain_events or stored
    lead_cols = dict(_columns(con, "_ls_raw_leads"))
    key = "id" if "id" in lead_cols else "lead_id" if "lead_id" in lead_cols else None
    if key is None:
        raise missing_columns(leads, ["id"], lead_cols, " (or 'lead_id')")
    drop = [c for c in ("id", "lead_id") if c in lead_cols]
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW leads AS SELECT * EXCLUDE ({', '.join(q.ident(c) for c in drop)}), "
        f"{_id_sql(key, lead_cols[key], plain_leads)} AS id FROM _ls_raw_leads"
    )
    ev_cols = dict(_columns(con, "_ls_raw_events"))
    missing = [c for c in ("lead_id", "type", "timestamp") if c not in ev_cols]
    if missing:
        raise missing_columns(events, missing, ev_cols)
    ts = ev_cols["timestamp"].upper()
    ts_expr = '"timestamp"' if ts.startswith("TIMESTAMP WITH TIME ZONE") else 'CAST("timestamp" AS TIMESTAMPTZ)'
    lead = _id_sql("lead_id", ev_cols["lead_id"], plain_events)
    typ = "type" if plain_events and ev_cols["type"].upper() == "VARCHAR" else strip_sql("CAST(type AS VARCHAR)")
    replaced = f'{lead} AS lead_id, {typ} AS type, {ts_expr} AS "timestamp"'
    # computed over the columns as stored (the select list reads the file's columns, not the replaced ones)
    check = f", {row_check[0]} AS {ROW_CHECK}" if row_check is not None else ""
    if "id" in ev_cols:
        event_id = _id_sql("id", ev_cols["id"], plain_events)
        view = f"SELECT * REPLACE ({replaced}, nullif({event_id}, '') AS id){check} FROM _ls_raw_events"
    else:
        view = f"SELECT * REPLACE ({replaced}), CAST(NULL AS VARCHAR) AS id{check} FROM _ls_raw_events"
    con.execute(f"CREATE OR REPLACE TEMP VIEW events AS {view}")
    return SourceSchema(
        events=TableSchema.from_columns(_columns(con, "events"), RESERVED_EVENT_COLUMNS),
        leads=TableSchema.from_columns(_columns(con, "leads"), RESERVED_LEAD_COLUMNS),
        has_event_id="id" in ev_cols,
        has_ord=True,
        # "FALSE": every row condition is in `scan_check`, none is left to the scoring pass
        row_check=None if row_check is None else "FALSE" if row_check[0] == "FALSE" else ROW_CHECK,
        lead_check=row_check[1] if row_check is not None else None,
        id_check=row_check[2] if row_check is not None else None,
        scan_check=row_check[3] if row_check is not None else None,
    )
