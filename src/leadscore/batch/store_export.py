"""The store's leads and events as the batch engine reads them, exported column-wise into Arrow.

Only what the model reads leaves the database: the attributes and properties it names (as
`dialects.infer_schema` finds them) and, for a model without a lifecycle, only the events of the
types it names, plus every event after the evaluation time (the store's `next_change_at` needs
the next one of any type). Each needed key is taken out of the JSON column in SQL as JSON text
(SQLite `->`, PostgreSQL `->`), so no properties object is ever parsed in Python; DuckDB then
splits that text into the typed slots `key::num` / `key::str` / `key::bool` (`batch/schema.py`),
because one key can hold a number in one event and text in another. Slots no row uses are
dropped, so the tables look exactly like those the old row-by-row export built.

SQLite rows come through the driver's cursor in large `fetchmany` chunks; PostgreSQL streams a
`COPY ... TO STDOUT` (CSV) into a temporary file that Arrow's CSV reader parses.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leadscore.batch import sqltext as q
from leadscore.model.conditions import AnyConditionModel, children
from leadscore.model.spec import ConditionRule, EventRule, ScoringModel

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from leadscore.store.base import LeadStore

FETCH_ROWS = 200_000
MAX_EXACT_INT = 2**53


class Unsupported(Exception):
    """Values the typed columns cannot hold exactly (nested or huge numbers): use the pure scorer."""


@dataclass(frozen=True)
class Needs:
    """What the model reads: attribute and property names, and event types (None: every type)."""

    attributes: tuple[str, ...]
    properties: tuple[str, ...]
    types: tuple[str, ...] | None
    event_ids: bool  # the lifecycle's stage history names events by id


def _roots(model: ScoringModel) -> list[AnyConditionModel]:
    roots: list[Any] = [r.when for r in model.rules if isinstance(r, ConditionRule)]
    roots += [b.when for bands in model.labels.values() for b in bands if b.when is not None]
    roots += [t.when for t in (model.lifecycle.transitions if model.lifecycle else []) if t.when is not None]
    roots += [p.when for p in model.playbooks if p.when is not None]
    return roots


def needs_of(model: ScoringModel) -> Needs:
    from leadscore.batch.dialects import infer_schema

    schema = infer_schema(model)
    types: set[str] | None = None
    if model.lifecycle is None:  # a lifecycle reads stage_set events and transitions' events: keep them all
        types = {t for r in model.rules if isinstance(r, EventRule) for t in r.on}
        stack = _roots(model)
        while stack:
            cond = stack.pop()
            for attr in ("count", "none", "of", "last"):
                found = getattr(cond, attr, None)
                if isinstance(found, tuple):
                    types.update(found)
            stack.extend(children(cond))
    return Needs(
        attributes=tuple(sorted(schema.leads.slots)),
        properties=tuple(sorted(schema.events.slots)),
        types=tuple(sorted(types)) if types is not None else None,
        event_ids=model.lifecycle is not None,
    )


# -- SQL per backend ----------------------------------------------------------------------------------
def _json_key(store: LeadStore, column: str, key: str) -> str:
    """The key's value as JSON text (NULL when absent)."""
    if store.name == "postgres":
        return f"CAST({column} -> {q.text(key)} AS TEXT)"
    if any(c in key for c in '"\\'):
        raise Unsupported(f"property name {key!r} cannot be written as an SQLite JSON path")
    return f"{column} -> {q.text('$.' + chr(34) + key + chr(34))}"


def _lead_sql(store: LeadStore, needs: Needs, ids: str | None) -> str:
    cols = ["id", *(_json_key(store, "attributes", a) for a in needs.attributes)]
    where = f" WHERE id IN ({ids})" if ids else ""
    return f"SELECT {', '.join(cols)} FROM leads{where}"


def _event_sql(store: LeadStore, needs: Needs, at: int, ids: str | None) -> str:
    cols = ["lead_id", "type", "ts", "seq"]
    if needs.event_ids:
        cols.append("event_key")
    cols += [_json_key(store, "properties", p) for p in needs.properties]
    where = []
    if ids:
        where.append(f"lead_id IN ({ids})")
    if needs.types is not None:
        # later events of any type are kept for the next stored event after `at`
        kinds = ", ".join(q.text(t) for t in needs.types) or "NULL"
        where.append(f"(type IN ({kinds}) OR ts > {int(at)})")
    return f"SELECT {', '.join(cols)} FROM events" + (f" WHERE {' AND '.join(where)}" if where else "")


def _raw_schema(names: Sequence[str], ints: Sequence[str]) -> pa.Schema:
    import pyarrow as pa

    return pa.schema([(n, pa.int64() if n in ints else pa.string()) for n in names])


def _sqlite_batches(store: LeadStore, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    with store.read() as conn:
        raw: Any = conn.connection.driver_connection
        cur = raw.cursor()
        try:
            cur.execute(sql)
            while rows := cur.fetchmany(FETCH_ROWS):
                cols = list(zip(*rows, strict=True))
                yield pa.record_batch([pa.array(c, f.type) for c, f in zip(cols, schema, strict=True)], schema=schema)
        finally:
            cur.close()


def _postgres_batches(store: LeadStore, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    from pyarrow import csv

    fd, path = tempfile.mkstemp(suffix=".csv", prefix="leadscore-export-")
    try:
        with os.fdopen(fd, "wb") as fh, store.read() as conn:
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
                for data in copy:
                    fh.write(data)
        opts = csv.ConvertOptions(
            column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False, null_values=[""]
        )
        reader = csv.open_csv(
            path,
            read_options=csv.ReadOptions(column_names=schema.names, block_size=64 << 20),
            convert_options=opts,
        )
        yield from reader
    finally:
        os.unlink(path)


def _batches(store: LeadStore, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    if store.name == "postgres":
        return _postgres_batches(store, sql, schema)
    return _sqlite_batches(store, sql, schema)


# -- typed slots --------------------------------------------------------------------------------------
def _typed_sql(plain: Sequence[str], keys: Sequence[str]) -> tuple[str, str]:
    """(SELECT of the plain columns and three slots per key, SELECT counting values no slot holds)."""
    cols = [q.ident(c) for c in plain]
    bad = []
    for i, key in enumerate(keys):
        j = f"CAST(_j{i} AS JSON)"
        t = f"json_type({j})"
        number = f"{t} IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
        cols.append(f"CASE WHEN {number} THEN TRY_CAST({j} AS DOUBLE) END AS {q.ident(key + '::num')}")
        cols.append(f"CASE WHEN {t} = 'VARCHAR' THEN {j} ->> '$' END AS {q.ident(key + '::str')}")
        cols.append(f"CASE WHEN {t} = 'BOOLEAN' THEN TRY_CAST({j} AS BOOLEAN) END AS {q.ident(key + '::bool')}")
        # a whole number written without a fraction is a Python int: beyond 2**53 a double loses it
        huge = f"(NOT regexp_matches(_j{i}, '[.eE]') AND abs(TRY_CAST({j} AS DOUBLE)) > {MAX_EXACT_INT})"
        bad.append(f"({t} IN ('OBJECT', 'ARRAY') OR ({t} IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND {huge}))")
    check = f"SELECT count(*) FILTER (WHERE {' OR '.join(bad)}) FROM _st_raw" if bad else ""
    return f"SELECT {', '.join(cols)} FROM _st_raw", check


def _typed(
    con: duckdb.DuckDBPyConnection,
    batches: Iterator[pa.RecordBatch],
    plain: Sequence[str],
    keys: Sequence[str],
    empty: pa.Schema,
) -> pa.Table:
    import pyarrow as pa

    select, check = _typed_sql(plain, keys)
    parts: list[pa.Table] = []
    for batch in batches:
        con.register("_st_raw", batch)
        try:
            if check and con.execute(check).fetchall()[0][0]:
                raise Unsupported("nested values or integers beyond 2**53 in the properties the model reads")
            parts.append(con.sql(select).to_arrow_table())
        finally:
            con.unregister("_st_raw")
    if not parts:
        con.register("_st_raw", empty.empty_table())
        try:
            parts.append(con.sql(select).to_arrow_table())
        finally:
            con.unregister("_st_raw")
    table = pa.concat_tables(parts)
    unused = [
        i for i, name in enumerate(table.column_names) if "::" in name and table.column(i).null_count == len(table)
    ]
    return table.drop_columns([table.column_names[i] for i in unused])


def export_store(
    store: LeadStore, model: ScoringModel, at: int, con: duckdb.DuckDBPyConnection, *, ids: str | None = None
) -> tuple[pa.Table, pa.Table]:
    """(leads, events) of the store, or of the leads the store query `ids` selects (one column of ids).

    Events carry `_ls_ord` (the log's sequence, which orders ties in time) and `id` when a lifecycle
    needs event ids. Raises `Unsupported` when a value the model reads has no typed slot.
    """
    import pyarrow as pa

    needs = needs_of(model)
    lead_names = ["id", *(f"_j{i}" for i in range(len(needs.attributes)))]
    lead_schema = _raw_schema(lead_names, ())
    leads = _typed(
        con, _batches(store, _lead_sql(store, needs, ids), lead_schema), ["id"], needs.attributes, lead_schema
    )
    plain = ["lead_id", "type", "ts", "seq", *(["event_key"] if needs.event_ids else [])]
    ev_schema = _raw_schema([*plain, *(f"_j{i}" for i in range(len(needs.properties)))], ("ts", "seq"))
    events = _typed(
        con, _batches(store, _event_sql(store, needs, at, ids), ev_schema), plain, needs.properties, ev_schema
    )
    ts = events.column("ts").cast(pa.timestamp("us", tz="UTC"))
    events = events.set_column(events.column_names.index("ts"), "timestamp", ts)
    events = events.rename_columns(
        ["_ls_ord" if n == "seq" else "id" if n == "event_key" else n for n in events.column_names]
    )
    return leads, events
