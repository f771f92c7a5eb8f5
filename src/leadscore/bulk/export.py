"""The store's leads and events as the batch engine reads them, exported column-wise into Arrow.

Only what the model reads leaves the database: the attributes and properties it names (as
`dialects.infer_schema` finds them) and, for a model without a lifecycle, only the events some
rule or condition can read at the evaluation time (`sql.relevance`: types it names, within the
longest window of each), plus every event after it (the store's `next_change_at` needs the next
one of any type). DuckDB splits each needed key into the typed slots `key::num` /
`key::str` / `key::bool` (`sql/columns.py`), because one key can hold a number in one event and
text in another. Slots no row uses are dropped, so the tables look exactly like those the old
row-by-row export built.

Each backend says how (`LeadStore.json_value_sql`, `copy_export`, `sqlite_file`). SQLite: the raw
JSON text is read, and DuckDB extracts the keys (vectorised; SQLite's JSON path
extraction costs far more than the read itself): a large table through ADBC readers
(`store_adbc`, two in parallel over rowid halves for more than `split` rows), batches converted
as they arrive so the raw text never sits in memory whole; a small one through the store's own
driver. PostgreSQL takes each key out in SQL (`->`, as JSON text) and streams a
`COPY ... TO STDOUT` (CSV) into a temporary file that Arrow's CSV reader parses; the events (the
large read) come through the ADBC driver's binary COPY straight into Arrow when it is installed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leadscore.bulk.export_adbc import Keyed, adbc_batches
from leadscore.bulk.typed_slots import Unsupported, converter, drop_unused, raw_names
from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.relevance import relevant_sql
from leadscore.store.codec import timeline_id_sql

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from leadscore.store.base import LeadStore

FETCH_ROWS = 200_000
SPLIT_ROWS = 1_000_000  # a table with more rows (by its rowid range) is read by two readers
READER_MIN_ROWS = 100_000  # a smaller one is read by the store's own driver, in this process
SERIAL = "SET LOCAL max_parallel_workers_per_gather = 0"  # PostgreSQL: `_postgres_batches`' read, in its transaction
POSTGRES_ADBC = True  # PostgreSQL's events read through the ADBC driver when installed (False: COPY as CSV)


@dataclass(frozen=True)
class Needs:
    """What the model reads: attribute and property names, and per event type the longest window it
    is read through (`sql.relevance`; None: every event matters, as with a lifecycle)."""

    attributes: tuple[str, ...]
    properties: tuple[str, ...]
    horizons: dict[str, int | None] | None
    event_ids: bool  # the lifecycle's stage history names events by id
    # the event types whose properties the model reads (`property_types`): the others' are not exported
    property_types: tuple[str, ...] = ()
    # each property's types (`key_types`), as pairs: PostgreSQL takes a key out of those events only
    key_types: tuple[tuple[str, tuple[str, ...]], ...] = ()


def needs_of(model: ScoringModel) -> Needs:
    from leadscore.sql.dialects import infer_schema
    from leadscore.sql.relevance import horizons

    schema = infer_schema(model)
    return Needs(
        attributes=tuple(sorted(schema.leads.slots)),
        properties=tuple(sorted(schema.events.slots)),
        horizons=horizons(model),
        event_ids=model.lifecycle is not None,
        property_types=property_types(model),
        key_types=tuple(sorted(key_types(model).items())),
    )


def property_types(model: ScoringModel) -> tuple[str, ...]:
    """The event types through which the model reads a property (sorted): the types of the rules and
    conditions with a `where:` filter, of the aggregates (their property), and `stage_set` with a
    lifecycle (its `stage`). No engine reads another event's properties (every rule and condition names
    its types), so only these types' properties leave the store: in the b2b example a third of the
    properties' bytes (email, form and download events) were read out of SQLite, spilled, and parsed by
    DuckDB for nothing."""
    return tuple(sorted({t for types in key_types(model).values() for t in types}))


def key_types(model: ScoringModel) -> dict[str, tuple[str, ...]]:
    """Each property the model reads and the event types through which it reads it (sorted): the types
    of the rules and conditions whose `where:` names it, of the aggregates over it, and `stage_set` for
    `stage` with a lifecycle (`property_types`, key by key). PostgreSQL takes each key out of the
    events it exports (`_keys`): a key out of the events of these types only, NULL for the others,
    which no engine reads it on. In the b2b example `stage` (read on `stage_set` events alone) was
    taken out of 2.6M page views too (a third of those events' extractions)."""
    from leadscore.engine.lifecycle_replay import STAGE_SET
    from leadscore.model.conditions import EventCondition
    from leadscore.model.spec import EventRule
    from leadscore.model.walk import conditions

    found: dict[str, set[str]] = {}

    def read(keys: Sequence[str], types: Sequence[str]) -> None:
        for key in keys:
            found.setdefault(key, set()).update(types)

    for rule in model.rules:
        if isinstance(rule, EventRule) and rule.where:
            read(tuple(rule.where), rule.on)
    for cond in conditions(model):
        if isinstance(cond, EventCondition) and cond.properties_read():  # a `where:`, an aggregate's property
            read(cond.properties_read(), cond.types)
    if model.lifecycle is not None:
        read(("stage",), (STAGE_SET,))
    return {key: tuple(sorted(types)) for key, types in found.items()}


# -- SQL per backend ----------------------------------------------------------------------------------
def sqlite_path(store: LeadStore) -> str | None:
    """The SQLite store's database file, which a connection of another driver can open (None: another
    database, or one in memory)."""
    return store.sqlite_file()


def _keys(
    store: LeadStore,
    raw: bool,
    column: str,
    keys: Sequence[str],
    types: Sequence[str] | None = None,
    by_key: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """`raw`: the JSON text `_p` (SQLite); else each key's value as JSON text (NULL when absent).
    `types` (events): only rows of these types carry them, the others NULL (`property_types`);
    `by_key`: a key (taken out one by one, not raw) only out of the rows of its own types (`key_types`)."""
    if not keys:
        return []
    if raw:
        values = [column]
    else:
        values = [v for v in (store.json_value_sql(column, k) for k in keys) if v is not None]
    if types and not raw and by_key:
        return [
            f"CASE WHEN type IN {q.text_list(by_key.get(k, types))} THEN {v} END"
            for k, v in zip(keys, values, strict=True)
        ]
    if types:  # (SQLite reads a row's column only when the CASE asks for it)
        values = [f"CASE WHEN type IN {q.text_list(types)} THEN {v} END" for v in values]
    if raw:
        return [f"{values[0]} AS _p"]
    return values


def _lead_sql(store: LeadStore, needs: Needs, ids: str | None, raw: bool) -> str:
    cols = ["id", *_keys(store, raw, "attributes", needs.attributes)]
    where = f" WHERE id IN ({ids})" if ids else ""
    return f"SELECT {', '.join(cols)} FROM leads{where}"


def part_sql(starts: Sequence[str], column: str = "lead_id") -> str:
    """SQL: the part (0, 1, ...) of the lead id `column` among parts beginning at `starts` (sorted in the
    store's order; the first part also holds the ids below its start), compared in the database with
    the operators and collation of `lifecycle_parts.part_queries`, so each id gets the part whose query
    selects it whatever the collation orders."""
    if len(starts) < 2:
        return "0"
    tests = " ".join(f"WHEN {column} >= {q.text(starts[k])} THEN {k}" for k in range(len(starts) - 1, 0, -1))
    return f"CASE {tests} ELSE 0 END"


def _event_sql(store: LeadStore, needs: Needs, at: int, ids: str | None, raw: bool) -> str:
    cols = ["lead_id", "type", "ts", "seq"]
    if needs.event_ids:
        cols.append(f"{timeline_id_sql()} AS event_key")  # ids per lead, as store.codec.event_of reads them
    cols += _keys(store, raw, "properties", needs.properties, needs.property_types, dict(needs.key_types))
    where = []
    if ids:
        where.append(f"lead_id IN ({ids})")
    if needs.horizons is not None:
        # only the events some rule can read at `at`; later events of any type are kept for the
        # next stored event after `at`
        where.append(f"({relevant_sql(needs.horizons, 'ts', int(at))} OR ts > {int(at)})")
    return f"SELECT {', '.join(cols)} FROM events" + (f" WHERE {' AND '.join(where)}" if where else "")


def _raw_schema(names: Sequence[str], ints: Sequence[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(n, pa.int64() if n in ints else pa.string()) for n in names])


def _sqlite_batches(store: LeadStore, sql: str, schema: pa.Schema) -> Iterator[Keyed]:
    """Through the store's own driver: a small table, or a database in memory (no other connection
    can open it)."""
    import pyarrow as pa

    with store.read() as conn:
        raw: Any = conn.connection.driver_connection
        cur = raw.cursor()
        try:
            cur.execute(sql)
            n = 0
            while rows := cur.fetchmany(FETCH_ROWS):
                cols = list(zip(*rows, strict=True))
                arrays = [pa.array(c, f.type) for c, f in zip(cols, schema, strict=True)]
                yield (0, n), pa.record_batch(arrays, schema=schema)
                n += 1
        finally:
            cur.close()


def range_sql(table: str, rowid: str) -> str:
    """SQL: the least and greatest `rowid` of `table`, each looked up at one end of its key. SQLite
    takes that shortcut only for a lone min() or max(): `SELECT min(x), max(x)` scanned a whole
    index (the events' by lead, 0.4 CPU s at 5M events, before the readers could start)."""
    return f"SELECT (SELECT min({rowid}) FROM {table}), (SELECT max({rowid}) FROM {table})"


def _ranges(store: LeadStore, table: str, rowid: str, split: int) -> list[tuple[int, int]]:
    """One rowid range per reader: two halves when the table holds more than `split` rows."""
    with store.read() as conn:
        lo, hi = conn.exec_driver_sql(range_sql(table, rowid)).one()
    lo, hi = (int(lo), int(hi)) if lo is not None else (0, 0)
    if hi - lo + 1 <= split:
        return [(lo, hi)]
    mid = (lo + hi) // 2
    return [(lo, mid), (mid + 1, hi)]


def _postgres_batches(store: LeadStore, sql: str, schema: pa.Schema) -> Iterator[Keyed]:
    from pyarrow import csv

    fd, path = tempfile.mkstemp(suffix=".csv", prefix="leadscore-export-")
    try:
        with os.fdopen(fd, "wb") as fh, store.read() as conn:
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cur:
                # no parallel workers: a part's read (10,000 leads' stored results or attributes) started
                # two for a Gather the leader's formatting waits on anyway (11 reads of a part's stored
                # results: 1.28-1.49 server CPU s with them, 1.09-1.19 without)
                cur.execute(SERIAL)
                with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                    for data in copy:
                        fh.write(data)
        if os.path.getsize(path) == 0:  # no rows (an empty store): Arrow's CSV reader refuses an empty file
            import pyarrow as pa

            yield (0, 0), pa.RecordBatch.from_pylist([], schema=schema)
            return
        opts = csv.ConvertOptions(
            column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False, null_values=[""]
        )
        reader = csv.open_csv(
            path,
            read_options=csv.ReadOptions(column_names=schema.names, block_size=64 << 20),
            convert_options=opts,
        )
        for n, batch in enumerate(reader):
            yield (0, n), batch
    finally:
        os.unlink(path)


def _typed(
    con: duckdb.DuckDBPyConnection,
    batches: Iterator[Keyed],
    plain: Sequence[str],
    keys: Sequence[str],
    empty: pa.Schema,
    raw: bool,
) -> pa.Table:
    import pyarrow as pa

    convert = converter(con, plain, keys, raw)
    parts = sorted(((key, convert(batch)) for key, batch in batches), key=lambda kv: kv[0])
    table = pa.concat_tables([t for _, t in parts]) if parts else convert(empty.empty_table())
    return drop_unused(table)


def _postgres_adbc_batches(store: LeadStore, sql: str, schema: pa.Schema) -> Iterator[Keyed]:
    """Through the ADBC PostgreSQL driver (`adbc_postgres`): binary COPY decoded into Arrow as it
    streams, no text file written and parsed again. At 100,000 leads x 50 events psycopg alone,
    handing the CSV over row by row, cost 3.6-3.9 CPU s of this process; the export of a
    lifecycle apply went from 8.9 to 6.9 CPU s (the server's about the same)."""
    from leadscore.bulk.adbc_postgres import postgres_batches

    for n, batch in enumerate(postgres_batches(store.engine.url, sql, schema)):
        yield (0, n), batch


def _export(
    store: LeadStore, sql: str, table: str, rowid: str, schema: pa.Schema, split: int, adbc: bool = False
) -> Iterator[Keyed]:
    """`adbc`: on PostgreSQL through the ADBC driver when installed (a large read: its connection, opened
    per read, costs some 0.4 s of wall time, more than a small read's whole COPY)."""
    if store.copy_export:
        from leadscore.bulk import adbc_postgres

        if adbc and POSTGRES_ADBC and adbc_postgres.available():
            return _postgres_adbc_batches(store, sql, schema)
        return _postgres_batches(store, sql, schema)
    path = sqlite_path(store)
    parts = None if path is None else reader_ranges(store, table, rowid, split)
    if path is None or parts is None:
        return _sqlite_batches(store, sql, schema)
    return adbc_batches(path, sql, table, rowid, schema, parts)


def reader_ranges(store: LeadStore, table: str, rowid: str, split: int | None = None) -> list[tuple[int, int]] | None:
    """SQLite file: the rowid range of each reader program over `table` (`_ranges`; `split`: default
    SPLIT_ROWS); None when the table is read by the store's own driver in this process (starting a
    reader costs more)."""
    split = SPLIT_ROWS if split is None else split
    parts = _ranges(store, table, rowid, split)
    if parts[-1][1] - parts[0][0] < min(READER_MIN_ROWS, split):
        return None
    return parts


def query_table(
    store: LeadStore, sql: str, table: str, rowid: str, schema: pa.Schema, split: int | None = None
) -> pa.Table:
    """The rows of `sql` (a SELECT over `table` with a WHERE clause, parameters inlined) as one Arrow
    table of `schema`, read the store's fastest way: two ADBC readers over `rowid` halves on a large
    SQLite table, COPY on PostgreSQL. `split`: a table with more rows is read by two readers."""
    import pyarrow as pa

    batches = [batch for _, batch in _export(store, sql, table, rowid, schema, split or SPLIT_ROWS)]
    batches = [b if b.schema == schema else b.cast(schema) for b in batches if b.num_rows]
    return pa.Table.from_batches(batches, schema=schema)


def event_source(
    store: LeadStore,
    model: ScoringModel,
    at: int,
    ids: str | None,
    split: int = SPLIT_ROWS,
) -> tuple[Iterator[Keyed], list[str], tuple[str, ...], pa.Schema, bool]:
    """The store's events as the model reads them, raw: (keyed batches, plain columns, property keys,
    the raw schema, whether the properties come as the raw JSON text), for `converter`."""
    query = event_query(store, model, at, ids)
    batches = _export(store, query.sql, "events", "seq", query.schema, split, adbc=True)
    return batches, query.plain, query.keys, query.schema, query.raw


@dataclass(frozen=True)
class EventQuery:
    """The store's events as the model reads them, raw (`event_source`): the query over `events`, its
    rows' schema, and how `converter` types them (plain columns, property keys, raw JSON text)."""

    sql: str
    schema: pa.Schema
    plain: list[str]
    keys: tuple[str, ...]
    raw: bool


def event_query(store: LeadStore, model: ScoringModel, at: int, ids: str | None) -> EventQuery:
    """`event_source`'s query, not run."""
    needs = needs_of(model)
    raw = store.json_value_sql("attributes", "") is None
    plain = ["lead_id", "type", "ts", "seq", *(["event_key"] if needs.event_ids else [])]
    ev_sql = _event_sql(store, needs, at, ids, raw)
    ev_schema = _raw_schema(raw_names(plain, needs.properties, raw), ("ts", "seq"))
    return EventQuery(ev_sql, ev_schema, plain, needs.properties, raw)


def engine_events(typed: pa.Table) -> pa.Table:
    """The typed events (`converter`'s columns, unused slots dropped) as the batch engine reads them."""
    import pyarrow as pa

    ts = typed.column("ts").cast(pa.timestamp("us", tz="UTC"))
    events = typed.set_column(typed.column_names.index("ts"), "timestamp", ts)
    return events.rename_columns(
        ["_ls_ord" if n == "seq" else "id" if n == "event_key" else n for n in events.column_names]
    )


def export_store(
    store: LeadStore,
    model: ScoringModel,
    at: int,
    con: duckdb.DuckDBPyConnection,
    *,
    ids: str | None = None,
    split: int = SPLIT_ROWS,
    events: pa.Table | None = None,
) -> tuple[pa.Table, pa.Table]:
    """(leads, events) of the store, or of the leads the store query `ids` selects (one column of ids).

    Events carry `_ls_ord` (the log's sequence, which orders ties in time) and `id` when a lifecycle
    needs event ids. Raises `Unsupported` when a value the model reads has no typed slot. `split`:
    a SQLite table with more rows is read by two connections at once. `events`: those leads' events
    already read and typed (`converter`'s columns, `export_spill`), instead of read from the store.
    """
    if not store.bulk:
        raise Unsupported(f"the {store.name!r} store backend has no bulk export")
    needs = needs_of(model)
    raw = store.json_value_sql("attributes", "") is None  # the raw JSON text, keys extracted by DuckDB
    lead_schema = _raw_schema(raw_names(["id"], needs.attributes, raw), ())
    lead_sql = _lead_sql(store, needs, ids, raw)
    leads = _typed(
        con, _export(store, lead_sql, "leads", "rowid", lead_schema, split), ["id"], needs.attributes, lead_schema, raw
    )
    if events is None:
        batches, plain, keys, ev_schema, raw = event_source(store, model, at, ids, split)
        events = _typed(con, batches, plain, keys, ev_schema, raw)
    else:  # the part's rows of the one scan: of its leads only, as its own query reads them
        import pyarrow.compute as pc

        kept = pc.is_in(events.column("lead_id"), value_set=leads.column("id"))
        # usually every row is the part's: its filter copied each column (0.03-0.08 CPU s a part of
        # 10,000 leads x 50 events) for nothing, where the test alone costs 5 ms
        if kept.null_count or not pc.all(kept).as_py():
            events = events.filter(kept)
        events = drop_unused(events)
    return leads, engine_events(events)
