"""The append-only event log: idempotent inserts and whole timelines per lead."""

from __future__ import annotations

import json
import json.scanner
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.domain import Event, event_key
from leadscore.io.plain import plain
from leadscore.store.backends import json_text
from leadscore.store.base import LeadStore
from leadscore.store.codec import event_of, timeline_id
from leadscore.store.event_columns import EventColumns
from leadscore.store.leads_repo import chunks
from leadscore.store.tables import events

LOOKUP_CHUNK = 5000


def event_rows(batch: Sequence[Event], resolved: dict[str, str], now: int) -> list[dict[str, Any]]:
    """Rows for new events, first of each (lead, key) only; `resolved` maps aliased lead ids to their lead.

    Properties are stored as JSON keeps them (times as ISO text), so an event scored from its row
    scores exactly as it will when reloaded; its key is computed from the event as received, and
    that canonical form gives the same key.
    """
    seen: set[tuple[str, str]] = set()
    rows: list[dict[str, Any]] = []
    for event in batch:
        key = event_key(event)
        identity = (key, event.lead_id)  # ids are per lead: the lead the event arrives under
        if identity in seen:
            continue
        seen.add(identity)
        rows.append(
            {
                "event_key": key,
                "lead_id": resolved.get(event.lead_id, event.lead_id),
                "received_lead_id": event.lead_id,
                "type": event.type,
                "ts": event.ts,
                "properties": json_ready(event.properties),
                "ingested_at": now,
            }
        )
    return rows


def event_row_tuples(batch: Sequence[Event], resolved: dict[str, str], now: int) -> list[tuple[Any, ...]]:
    """`event_tuples(event_rows(batch, resolved, now))` in one pass, without the rows' dicts: a bulk
    batch's rows as the driver takes them (EVENT_COLUMNS order, the properties as JSON text). Building
    the dicts first cost 2.6 µs of CPU per event of a 10,000-event request, the tuples 0.8 more.
    An event with an id is keyed by it without `event_key`'s call, and its properties' text is
    `json_text(json_ready(...))` without the copy `json_ready` makes for a row (`properties_text`):
    1.5-1.6 -> 1.3-1.4 µs of CPU per event (minimums of 30 batches of 10,000).

    Plain events as columns (`EventColumns`), each with an id of its own (the usual bulk request),
    are rows column by column, in C-level passes: their properties flat and plain, each text is
    `json_text`'s without `properties_text`'s look at the values."""
    if isinstance(batch, EventColumns) and batch.unique_ids():
        leads = batch.lead_ids
        resolved_leads = map(resolved.get, leads, leads)
        texts = map(json_text, batch.properties)
        return list(zip(batch.ids, resolved_leads, leads, batch.types, batch.ts, texts, repeat(now)))
    seen: set[tuple[str, str]] = set()
    rows: list[tuple[Any, ...]] = []
    text = properties_text
    for event in batch:
        key = event.id
        if key is None:
            key = event_key(event)
        received = event.lead_id
        identity = (key, received)
        if identity in seen:
            continue
        seen.add(identity)
        props = text(event.properties)
        rows.append((key, resolved.get(received, received), received, event.type, event.ts, props, now))
    return rows


def aliases_of(conn: Connection, ids: Iterable[str]) -> dict[str, str]:
    """`leads_repo.resolve_aliases` in the driver's SQL (one array parameter on PostgreSQL): for the
    2,000 leads of a 10,000-event request, SQLAlchemy's expanded IN list cost 1.7 µs of CPU per event
    on PostgreSQL, most of the look-up."""
    found: dict[str, str] = {}
    qmark = conn.dialect.paramstyle == "qmark"
    for part in chunks(sorted(set(ids)), LOOKUP_CHUNK):
        if qmark:
            sql = f"SELECT alias, lead_id FROM aliases WHERE alias IN ({', '.join('?' * len(part))})"
            found.update(conn.exec_driver_sql(sql, tuple(part)).all())
        else:
            found.update(
                conn.exec_driver_sql("SELECT alias, lead_id FROM aliases WHERE alias = ANY(%s)", (list(part),)).all()
            )
    return found


_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


def json_ready(properties: Mapping[str, Any]) -> dict[str, Any]:
    """`plain(properties)`, without the walk when every value is already plain (the usual case)."""
    return dict(properties) if _plain_values(properties) else dict(plain(dict(properties)))


def properties_text(properties: Mapping[str, Any]) -> str:
    """`json_text(json_ready(properties))`: the stored text of an event's properties, the same text,
    without the dict `json_ready` copies when every value is plain already (the usual case)."""
    if type(properties) is dict and _plain_values(properties):
        return json_text(properties)
    return json_text(json_ready(properties))


def _plain_values(properties: Mapping[str, Any]) -> bool:
    """Every value already plain JSON (text, integer, boolean, null, a finite float): no walk needed."""
    for value in properties.values():
        kind = type(value)
        if kind not in _PLAIN_TYPES and not (kind is float and math.isfinite(value)):
            return False
    return True


Identity = tuple[str, str]  # (event key, the lead id the event arrived under)


def identity_of(row: Mapping[str, Any]) -> Identity:
    return row["event_key"], row["received_lead_id"]


def stored_keys(conn: Connection, identities: Iterable[Identity]) -> set[Identity]:
    """Those of `identities` already in the log (one indexed look-up by key per chunk)."""
    wanted = set(identities)
    found: set[Identity] = set()
    # plain driver SQL: compiling an IN list of thousands of bound parameters costs more than the look-up
    qmark = conn.dialect.paramstyle == "qmark"
    for part in chunks(sorted({key for key, _ in wanted}), LOOKUP_CHUNK):
        if qmark:
            sql = f"SELECT event_key, received_lead_id FROM events WHERE event_key IN ({', '.join('?' * len(part))})"
            rows = conn.exec_driver_sql(sql, tuple(part))
        else:
            sql = "SELECT event_key, received_lead_id FROM events WHERE event_key = ANY(%s)"
            rows = conn.exec_driver_sql(sql, (list(part),))
        found.update(pair for key, lead in rows if (pair := (key, lead)) in wanted)
    return found


def insert_events(store: LeadStore, conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert in order, skipping keys already stored; returns the rows that were new (in input order).

    The caller has already dropped the keys it saw stored under its locks; the conflict clause is
    for an explicit id that another writer stores for another lead at the same moment.
    """
    if not rows:
        return []
    new_keys = store.insert_new_events(conn, rows)
    if len(new_keys) == len(rows):
        return rows
    return [r for r in rows if identity_of(r) in new_keys]


# Statements built once with an expanding parameter: SQLAlchemy then reuses their cache key and
# compiled form, which for a one-lead transaction costs more than running them.
_IDS: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_COUNTS = sa.select(events.c.lead_id, sa.func.count()).where(events.c.lead_id.in_(_IDS)).group_by(events.c.lead_id)


def event_counts(conn: Connection, lead_ids: Sequence[str]) -> Counter[str]:
    """How many events each lead has in the log (an index-only count)."""
    out: Counter[str] = Counter()
    for part in chunks(sorted(set(lead_ids))):
        out.update({str(lead): int(n) for lead, n in conn.execute(_COUNTS, {"ids": list(part)})})
    return out


_EVENT_COLUMNS = (
    events.c.event_key,
    events.c.lead_id,
    events.c.received_lead_id,
    events.c.type,
    events.c.ts,
    events.c.properties,
)

_TIMELINES = (
    sa.select(*_EVENT_COLUMNS, events.c.seq)
    .where(events.c.lead_id.in_(_IDS))
    .order_by(events.c.lead_id, events.c.ts, events.c.seq)
)


# PostgreSQL: each lead's events by an index look-up of its own. `lead_id IN (...)` became, once the
# driver prepared the statement and the server planned it for any parameters (after five runs), a
# scan of the whole table comparing each row with every id of the list (200 for a drain): 550 ms of
# the server's CPU for 200 leads among 70,000 events, where this reads the same rows in 15 ms.
# `OFFSET 0` keeps the lateral subquery a look-up per lead: without it the planner folds it into a
# join, and on a table its statistics do not describe yet (a store filled since the last ANALYZE, as
# in a bulk load) it chose a hash join over a parallel scan of the whole table, then sorted every
# row by the lead's id in the database's collation: 23-24 ms for 200 leads among 60,000 events,
# where the look-ups take 7; sorted by the ids' place in the array (WITH ORDINALITY), the rows come
# in that order from the loop already and only each lead's own are sorted (an incremental sort).
LEAD_EVENTS_PG = (
    "CROSS JOIN LATERAL (SELECT * FROM events WHERE events.lead_id = t.id{} OFFSET 0) AS e ORDER BY t.n, e.ts, e.seq"
)
_TIMELINES_PG_FROM = "FROM unnest(CAST(%s AS text[])) WITH ORDINALITY AS t(id, n) " + LEAD_EVENTS_PG.format("")
TIMELINES_PG = (
    "SELECT e.event_key, e.lead_id, e.received_lead_id, e.type, e.ts, e.properties, e.seq " + _TIMELINES_PG_FROM
)
# the same with the properties as PostgreSQL's JSON text, decoded here by `json_value`: the driver's
# jsonb loader (json.loads with its encoding detection) cost more than the scan itself
_TIMELINES_PG_TEXT = (
    "SELECT e.event_key, e.lead_id, e.received_lead_id, e.type, e.ts, CAST(e.properties AS text), e.seq "
    + _TIMELINES_PG_FROM
)
# One lead's timeline (a real-time event's), the same rows: read in order from the index, and, as
# `results_repo.STATES_ONE_PG`, a generic plan the server keeps, where the statement above is planned
# again at every run.
TIMELINE_ONE_PG = (
    "SELECT event_key, lead_id, received_lead_id, type, ts, properties, seq FROM events "
    "WHERE lead_id = %s ORDER BY ts, seq"
)


_SQLITE_TIMELINES = (
    "SELECT event_key, lead_id, received_lead_id, type, ts, properties, seq FROM events WHERE lead_id IN"
)
_SQLITE_ORDER = "ORDER BY lead_id, ts, seq"


def _json_reader() -> Callable[[str], Any]:
    """`json.loads`, calling the C scanner it ends in directly when the text is one value and nothing
    else (as stored: `backends.json_text`'s output); any other text goes to `json.loads` itself."""
    make = getattr(json.scanner, "c_make_scanner", None)
    if make is None:
        return json.loads
    scan = make(json.JSONDecoder())

    def read(text: str) -> Any:
        try:
            value, end = scan(text, 0)
        except StopIteration:
            return json.loads(text)  # leading space, or not JSON: json.loads says what it says
        return value if end == len(text) else json.loads(text)

    return read


json_value = _json_reader()


def load_timelines(
    conn: Connection, lead_ids: Sequence[str], seqs: dict[str, list[int]] | None = None
) -> dict[str, list[Event]]:
    """Every stored event of the leads, in time order, ties in input order. `seqs`, when given,
    receives each lead's events' log positions (`seq`, the order they were appended), aligned."""
    out: dict[str, list[Event]] = defaultdict(list)
    postgres = conn.dialect.paramstyle != "qmark"
    for part in chunks(sorted(set(lead_ids))):
        ids = list(part)
        if postgres:
            found = conn.exec_driver_sql(_TIMELINES_PG_TEXT, (ids,))
        else:
            found = conn.exec_driver_sql(
                f"{_SQLITE_TIMELINES} ({', '.join('?' * len(ids))}) {_SQLITE_ORDER}", tuple(ids)
            )
        # the driver's own rows (plain tuples), all at once: SQLAlchemy's row per fetch cost about
        # 1 µs of each row, and the drain reads each touched lead's whole log (after a bulk request,
        # 5 to 15 rows per event of the request)
        rows = found.cursor.fetchall()
        found.close()
        timeline_rows(rows, out, seqs, json_value)
    return out


def timeline_rows(
    rows: Iterable[Sequence[Any]],
    out: dict[str, list[Event]],
    seqs: dict[str, list[int]] | None = None,
    read: Callable[[str], Any] | None = None,
) -> None:
    """Events of `_TIMELINES` rows (or `TIMELINES_PG`'s) appended to their leads' lists in `out`;
    `read` decodes the properties' JSON text where the driver does not (SQLite)."""
    # rows as plain tuples, not mappings: on the real-time path this reads a lead's whole log
    for key, lead_id, received, type_, ts, properties, seq in rows:
        event_id = key if received == lead_id else timeline_id(key, lead_id, received)
        if read is not None:
            properties = read(properties)
        out[lead_id].append(Event.stored(lead_id, type_, ts, properties, event_id))
        if seqs is not None:
            seqs.setdefault(lead_id, []).append(seq)


def recent_events(conn: Connection, lead_id: str, limit: int) -> list[Event]:
    query = sa.select(*_EVENT_COLUMNS).where(events.c.lead_id == lead_id)
    query = query.order_by(events.c.ts.desc(), events.c.seq.desc())
    return [event_of(r) for r in conn.execute(query.limit(limit)).mappings()]
