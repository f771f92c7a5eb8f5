"""Inputs of the batch engine, registered in DuckDB as the two views the query reads: `leads`, `events`.

A source is a Parquet file, a directory of Parquet files, a CSV file, or an in-memory table
(pyarrow / pandas). Input order, which decides duplicates (first seen wins) and ties in time, is
kept as `_ls_ord`: (file index, row number in the file) for files, the row index for tables.
This is the seam for the store: any relation with these columns can be registered the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.batch import sqltext as q
from leadscore.batch.schema import RESERVED_EVENT_COLUMNS, RESERVED_LEAD_COLUMNS, SourceSchema, TableSchema

if TYPE_CHECKING:
    import duckdb

Source = str | Path | Any  # a path, a pyarrow.Table or a pandas.DataFrame


class SourceError(ValueError):
    """An input that cannot be read, named with what was wrong."""


def _parquet_files(path: Path) -> list[str]:
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*.parquet"))
        if not files:
            raise SourceError(f"{path}: no .parquet files in this directory")
        return files
    if not path.exists():
        raise SourceError(f"{path}: file not found")
    return [str(path)]


def _file_relation(path: Path) -> str:
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == ".parquet":
        files = _parquet_files(path)
        listed = "[" + ", ".join(q.text(f) for f in files) + "]"
        ord_expr = "file_row_number"
        if len(files) > 1:
            # the file's position in the list (DuckDB's virtual column), not a search of its name per row
            ord_expr = "CAST(file_index AS BIGINT) * 1099511627776 + file_row_number"
        return (
            f"SELECT * EXCLUDE (file_row_number), {ord_expr} AS _ls_ord "
            f"FROM read_parquet({listed}, file_row_number = true)"
        )
    if suffix in (".csv", ".tsv", ".txt"):
        if not path.exists():
            raise SourceError(f"{path}: file not found")
        return f"SELECT *, row_number() OVER () - 1 AS _ls_ord FROM {_csv(path)}"
    raise SourceError(f"{path}: unsupported input format {suffix or '(none)'}; use Parquet (file or directory) or CSV")


# leadscore.io.values.coerce_cell, in SQL: numeric text becomes a number unless it has a leading zero
# ("007"), is not finite ("nan", "1e999"), or is a boolean word; everything else stays text.
_INT = r"[+-]?(0|[1-9][0-9]*)"
_FLOAT = r"[+-]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
_WS = "' \t\r\n\x0b\x0c'"


def _csv(path: Path) -> str:
    return f"read_csv({q.text(str(path))}, header = true, all_varchar = true, auto_detect = true)"


def csv_typed(con: duckdb.DuckDBPyConnection, view: str, keep_text: frozenset[str]) -> str:
    """Columns of an all-text CSV view split into `name::num` and `name::str` slots, as the io reader types them."""
    cols = [str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()]
    out = []
    for col in cols:
        c = q.ident(col)
        if col in keep_text or col.startswith("_ls_"):
            out.append(f"nullif(trim({c}), '') AS {c}" if not col.startswith("_ls_") else c)
            continue
        t = f"trim({c})"
        number = (
            f"(regexp_full_match({t}, '{_INT}') OR (regexp_full_match({t}, '{_FLOAT}') "
            f"AND isfinite(TRY_CAST({t} AS DOUBLE))))"
        )
        out.append(f"CASE WHEN {number} THEN TRY_CAST({t} AS DOUBLE) END AS {q.ident(col + '::num')}")
        out.append(f"CASE WHEN {t} <> '' AND NOT {number} THEN {t} END AS {q.ident(col + '::str')}")
    return f"SELECT {', '.join(out)} FROM {view}"


def _table_relation(con: duckdb.DuckDBPyConnection, name: str, table: Any) -> str:
    import pyarrow as pa

    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    if "_ls_ord" not in table.column_names:
        table = table.append_column("_ls_ord", pa.array(range(table.num_rows), pa.int64()))
    con.register(f"_ls_src_{name}", table)
    return f"SELECT * FROM _ls_src_{name}"


def register(con: duckdb.DuckDBPyConnection, name: str, source: Source) -> None:
    """Create the view `name` over the source (as-is; `normalize` adds the query's conventions)."""
    if isinstance(source, str | Path):
        rel = _file_relation(Path(source))
    else:
        rel = _table_relation(con, name, source)
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _ls_file_{name} AS {rel}")
        typed = f"SELECT * FROM _ls_file_{name}"
        if isinstance(source, str | Path) and Path(source).suffix.lower() in (".csv", ".tsv", ".txt"):
            typed = csv_typed(con, f"_ls_file_{name}", frozenset({"id", "lead_id", "type", "timestamp"}))
        con.execute(f"CREATE OR REPLACE TEMP VIEW _ls_raw_{name} AS {typed}")
    except Exception as exc:  # duckdb raises its own error types for unreadable files
        raise SourceError(f"{source}: cannot read {name}: {exc}") from None


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()]


def prepare(con: duckdb.DuckDBPyConnection, leads: Source, events: Source) -> SourceSchema:
    """Register both inputs as the views `leads` and `events`, checked and typed; returns their schema."""
    register(con, "leads", leads)
    register(con, "events", events)
    lead_cols = dict(_columns(con, "_ls_raw_leads"))
    key = "id" if "id" in lead_cols else "lead_id" if "lead_id" in lead_cols else None
    if key is None:
        raise SourceError(f"{leads}: the leads need an `id` (or `lead_id`) column; found {', '.join(lead_cols)}")
    drop = [c for c in ("id", "lead_id") if c in lead_cols]
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW leads AS SELECT * EXCLUDE ({', '.join(q.ident(c) for c in drop)}), "
        f"CAST({q.ident(key)} AS VARCHAR) AS id FROM _ls_raw_leads"
    )
    ev_cols = dict(_columns(con, "_ls_raw_events"))
    missing = [c for c in ("lead_id", "type", "timestamp") if c not in ev_cols]
    if missing:
        raise SourceError(f"{events}: the events need the column(s) {', '.join(missing)}; found {', '.join(ev_cols)}")
    ts = ev_cols["timestamp"].upper()
    ts_expr = '"timestamp"' if ts.startswith("TIMESTAMP WITH TIME ZONE") else 'CAST("timestamp" AS TIMESTAMPTZ)'
    replaced = f'CAST(lead_id AS VARCHAR) AS lead_id, CAST(type AS VARCHAR) AS type, {ts_expr} AS "timestamp"'
    if "id" in ev_cols:
        view = f"SELECT * REPLACE ({replaced}, CAST(id AS VARCHAR) AS id) FROM _ls_raw_events"
    else:
        view = f"SELECT * REPLACE ({replaced}), CAST(NULL AS VARCHAR) AS id FROM _ls_raw_events"
    con.execute(f"CREATE OR REPLACE TEMP VIEW events AS {view}")
    return SourceSchema(
        events=TableSchema.from_columns(_columns(con, "events"), RESERVED_EVENT_COLUMNS),
        leads=TableSchema.from_columns(_columns(con, "leads"), RESERVED_LEAD_COLUMNS),
        has_event_id="id" in ev_cols,
        has_ord=True,
    )
