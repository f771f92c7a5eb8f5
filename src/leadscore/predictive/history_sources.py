"""Where history comes from: event and lead files (Parquet file or directory, CSV), or a leadscore store.

Everything ends up as two DuckDB views, `ls_events` (lead_id, type, timestamp, properties as columns)
and `ls_leads` (id, attributes as columns), so that the snapshot builder has one input shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.predictive.errors import DataError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from leadscore.store.base import LeadStore

EVENTS = "ls_events"
LEADS = "ls_leads"
CHUNK = 50_000


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def relation_sql(path: Path, what: str) -> str:
    """A DuckDB relation over a Parquet file, a directory of Parquet files, or a CSV file."""
    if not path.exists():
        raise DataError(f"{what} {path}: no such file or directory")
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if not files:
            raise DataError(f"{what} {path}: no .parquet files in this directory")
        return "read_parquet([" + ", ".join(_lit(str(f)) for f in files) + "], union_by_name = true)"
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return f"read_parquet({_lit(str(path))})"
    if suffix in {".csv", ".tsv", ".txt"}:
        return f"read_csv_auto({_lit(str(path))}, header = true)"
    raise DataError(f"{what} {path}: unsupported format {suffix or '(none)'}; use Parquet (file or directory) or CSV")


def _require(con: duckdb.DuckDBPyConnection, view: str, columns: list[str], what: str) -> None:
    have = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()}
    missing = [c for c in columns if c not in have]
    if missing:
        raise DataError(f"{what}: missing column(s) {', '.join(missing)} (has: {', '.join(sorted(have))})")


def register_files(con: duckdb.DuckDBPyConnection, events: Path, leads: Path | None) -> None:
    """`ls_events` and `ls_leads` over files; without a leads file, leads have no attributes."""
    import duckdb

    try:
        con.execute(f"CREATE OR REPLACE VIEW {EVENTS} AS SELECT * FROM {relation_sql(events, 'events')}")
        if leads is not None:
            con.execute(f"CREATE OR REPLACE VIEW {LEADS} AS SELECT * FROM {relation_sql(leads, 'leads')}")
        else:
            con.execute(f"CREATE OR REPLACE VIEW {LEADS} AS SELECT NULL::VARCHAR AS id WHERE false")
        _require(con, EVENTS, ["lead_id", "type", "timestamp"], f"events {events}")
        _require(con, LEADS, ["id"], f"leads {leads}")
    except duckdb.Error as exc:
        raise DataError(f"cannot read the history files: {exc}") from exc


def _flatten(rows: list[dict[str, Any]], fixed: dict[str, str], bag: str) -> dict[str, list[Any]]:
    """Rows of the store (fixed columns + a JSON bag) as columns; keys of the bag become columns."""
    keys: dict[str, None] = {}
    for row in rows:
        for k in row[bag] or {}:
            if k not in fixed.values():
                keys[k] = None
    cols: dict[str, list[Any]] = {name: [r[src] for r in rows] for src, name in fixed.items()}
    for k in keys:
        cols[k] = [(r[bag] or {}).get(k) for r in rows]
    return cols


def _arrow_chunks(chunks: Iterator[list[dict[str, Any]]], fixed: dict[str, str], bag: str) -> Iterator[pa.Table]:
    import pyarrow as pa

    for batch in chunks:
        cols = _flatten(batch, fixed, bag)
        # JSON values of mixed kinds in one key: keep them readable as text rather than fail
        arrays = {}
        for name, values in cols.items():
            try:
                arrays[name] = pa.array(values)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arrays[name] = pa.array([None if v is None else str(v) for v in values])
        yield pa.table(arrays)


def _concat(tables: list[pa.Table]) -> pa.Table:
    import pyarrow as pa

    return pa.concat_tables(tables, promote_options="permissive")


def register_store(con: duckdb.DuckDBPyConnection, store: LeadStore) -> None:
    """Export the store's events and leads into DuckDB (the store reads in chunks, Arrow in between).

    The store is handed in, opened by the caller: this module knows no workspace and holds no engine."""
    import pyarrow as pa

    from leadscore.store.base import StoreError
    from leadscore.store.queries import event_rows_in_log_order, lead_rows

    database_url = store.url
    try:
        ev_tables = list(
            _arrow_chunks(
                event_rows_in_log_order(store, CHUNK), {"lead_id": "lead_id", "type": "type", "ts": "_ts"}, "properties"
            )
        )
        ld_tables = list(_arrow_chunks(lead_rows(store, CHUNK), {"id": "id"}, "attributes"))
    except StoreError as exc:
        raise DataError(str(exc)) from exc
    if not ev_tables:
        raise DataError(f"the store {database_url} holds no events to learn from")
    ev = _concat(ev_tables)
    ld = _concat(ld_tables) if ld_tables else pa.table({"id": pa.array([], pa.string())})
    con.register("_ls_store_events", ev)
    con.register("_ls_store_leads", ld)
    con.execute(
        f"CREATE OR REPLACE VIEW {EVENTS} AS SELECT * EXCLUDE (_ts), make_timestamptz(_ts) AS timestamp "
        "FROM _ls_store_events"
    )
    con.execute(f"CREATE OR REPLACE VIEW {LEADS} AS SELECT * FROM _ls_store_leads")
