"""The append-only event log: idempotent inserts and whole timelines per lead."""

from __future__ import annotations

import json
import json.scanner
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.domain import Event, event_key
from leadscore.io.plain import plain
from leadscore.store.backends import EVENT_COLUMNS, EVENT_MARKS_PG, INSERT_EVENTS, event_tuples, json_text, values_sql
from leadscore.store.base import LeadStore
from leadscore.store.codec import event_of, timeline_id
from leadscore.store.leads_repo import LOCKING, NO_ALIAS, chunks, new_leads_sql, unaliased_leads_sql
from leadscore.store.realtime_conn import HeldDriver, autocommit_driver, begin_immediate, broken
from leadscore.store.retry import retrying
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
    1.5-1.6 -> 1.3-1.4 µs of CPU per event (minimums of 30 batches of 10,000)."""
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


# one event row's placeholders on PostgreSQL: its properties sent as JSON text, stored as jsonb
QUEUED_ROWS = 64  # at most this many events in one driver-level append (a group of real-time requests)


def append_queued(
    store: LeadStore, batch: Sequence[Event], now: Callable[[], int], held: HeldDriver | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The intake's deferred append of a few events, on the database driver, in a transaction of its
    own, committed when it returns: the events new to the log (in input order) and their leads,
    queued for rescoring (leadscore.store.pending). `now()` is called in the transaction.

    What `leadscore.store.ingest.ingest_events(..., defer=True)` does for a batch without identify
    events (no merge; the caller checks that, at most QUEUED_ROWS events, and numbers accepted), in
    the same order: aliases resolved (on PostgreSQL in the writes' statements, see `_commit_postgres`),
    leads created (and locked, on PostgreSQL: one statement in id order), events inserted with their
    conflict clause skipping stored ones, their leads queued. Through
    SQLAlchemy those statements cost two to three times their execution in the driver (one event:
    ~450 against ~150 µs of CPU on SQLite, ~1.1 ms against ~0.6 ms on PostgreSQL), which is most of a
    single event's acknowledgement; tests/app/test_committer_append.py checks the two give the same tables.

    `held`: the caller's own connection (`realtime_conn.HeldDriver`, the group committer's), on which
    the append runs instead of a pooled one checked out for it: on SQLite its own BEGIN IMMEDIATE and
    COMMIT, without SQLAlchemy's transaction; on PostgreSQL, when the server dropped it (a restart), the
    append runs again on a new one (the same statements: what a first attempt may have committed is
    skipped as stored).
    """
    if store.engine.dialect.paramstyle != "qmark":
        # a deadlock or lock timeout rolled back the whole implicit transaction: run it again, as
        # `store.transact` runs the SQLite one (whose driver errors `store.retryable` knows too)
        if held is None:
            return retrying(lambda: _commit_postgres(store, batch, now), store.retryable)
        return _held_postgres(store, held, batch, now)
    if held is not None:
        return _held_sqlite(held.get(), batch, now)

    def work(conn: Connection) -> tuple[list[dict[str, Any]], list[str]]:
        raw: Any = conn.connection.driver_connection
        cur = raw.cursor()
        try:
            return _sqlite_statements(cur, batch, now)
        finally:
            cur.close()

    return store.transact(work)


def _sqlite_statements(cur: Any, batch: Sequence[Event], now: Callable[[], int]) -> tuple[list[Any], list[str]]:
    ids = sorted({e.lead_id for e in batch})
    cur.execute(f"SELECT alias, lead_id FROM aliases WHERE alias IN ({', '.join('?' * len(ids))})", ids)
    at = now()
    rows = event_rows(batch, dict(cur.fetchall()), at)
    return _append_sqlite(cur, rows, sorted({r["lead_id"] for r in rows}), at)


def _held_sqlite(raw: Any, batch: Sequence[Event], now: Callable[[], int]) -> tuple[list[Any], list[str]]:
    """The SQLite append on a held connection: the write lock taken at BEGIN (`begin_immediate`), so
    nothing after it waits; any failure rolls the transaction back before it propagates."""
    begin_immediate(raw)
    cur = raw.cursor()
    try:
        done = _sqlite_statements(cur, batch, now)
        raw.execute("COMMIT")
        return done
    except BaseException:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
        raise
    finally:
        cur.close()


def _held_postgres(
    store: LeadStore, held: HeldDriver, batch: Sequence[Event], now: Callable[[], int]
) -> tuple[list[Any], list[str]]:
    dropped = False

    def once() -> tuple[list[Any], list[str]]:
        nonlocal dropped
        raw = held.get()
        try:
            return _append_postgres(raw, batch, now)
        except Exception:
            dropped = broken(raw)
            if dropped:
                held.drop()
            raise

    return retrying(once, lambda exc: dropped or store.retryable(exc))


def _commit_postgres(
    store: LeadStore, batch: Sequence[Event], now: Callable[[], int]
) -> tuple[list[dict[str, Any]], list[str]]:
    """One round trip in all, where BEGIN, the alias look-up, the writes and COMMIT took four: with one
    client, round trips are its latency. The connection is in autocommit and the statements go in
    pipeline mode, where everything up to a Sync message is one implicit transaction; the Sync after
    the writes commits them all, or, if any fails, none (the error is raised here, and the caller
    retries or refuses the request). The writes go under the ids as received, each statement doing
    nothing if one of them is an alias (`NO_ALIAS`, in its own snapshot); then, the insert says so,
    and the events are written as before, in two round trips: the aliases looked up (on a flush, the
    transaction going on), then the writes under the leads they name."""
    with autocommit_driver(store) as raw:  # the pool's connection itself (realtime_conn)
        return _append_postgres(raw, batch, now)


def _append_postgres(raw: Any, batch: Sequence[Event], now: Callable[[], int]) -> tuple[list[Any], list[str]]:
    ids = sorted({e.lead_id for e in batch})
    with raw.cursor() as cur:
        with raw.pipeline():
            at = now()
            rows = event_rows(batch, {}, at)
            cur.execute(*unaliased_leads_sql(ids, at))
            cur.execute(*unaliased_insert(rows, at))
            # leaving the pipeline sends the Sync that commits, and waits for it: the acknowledgement
            # waits for the commit (a Sync of our own before it would cost a round trip more)
        stored = cur.fetchall()
        if not aliased(stored):
            return _new_rows(rows, set(stored))
        with raw.pipeline():  # an alias: nothing was written (the leads of ids no alias named, at most)
            cur.execute("SELECT alias, lead_id FROM aliases WHERE alias = ANY(%s)", (ids,))
            resolved: dict[str, str] = dict(cur.fetchall())
            at = now()
            rows = event_rows(batch, resolved, at)
            targets = sorted({r["lead_id"] for r in rows})  # one order for every writer: inserts never deadlock
            cur.execute(*new_leads_sql(False, targets, at, LOCKING))
            cur.execute(_queued_insert(len(rows)), [*(v for row in event_tuples(rows) for v in row), at])
        stored = cur.fetchall()
    return _new_rows(rows, set(stored))


# Event rows inserted, skipping stored identities, and (with `queued`) their leads queued for
# rescoring in the same statement: the queue takes the leads of the rows the insert returns.
def _insert_cte(source: str, queued: bool) -> str:
    queue = (
        ", queued AS (INSERT INTO pending_rescore (lead_id, since) SELECT DISTINCT lead_id, CAST(%s AS bigint) "
        "FROM new ORDER BY lead_id ON CONFLICT (lead_id) DO NOTHING)"
    )
    return f"new AS ({INSERT_EVENTS.format(source)} RETURNING event_key, received_lead_id, lead_id)" + (
        queue if queued else ""
    )


def _queued_insert(count: int) -> str:
    values = "VALUES " + ", ".join([EVENT_MARKS_PG] * count)
    return f"WITH {_insert_cte(values, True)} SELECT event_key, received_lead_id FROM new"


# PostgreSQL: event rows (`event_rows`' dicts) from one JSON array parameter, in array order: one
# text parameter for psycopg to dump where the VALUES rows took seven a row
_PG_TYPES = {"ts": "bigint", "properties": "jsonb", "ingested_at": "bigint"}  # the others text
JSON_EVENTS = (
    "SELECT * FROM json_to_recordset(CAST(%s AS json)) AS v ("
    + ", ".join(f"{c} {_PG_TYPES.get(c, 'text')}" for c in EVENT_COLUMNS)
    + ")"
)


def unaliased_insert(rows: list[dict[str, Any]], now: int | None) -> tuple[str, list[Any]]:
    """PostgreSQL: the INSERT of event rows (`event_rows` with no alias resolved: under the ids
    received), made only if none of those ids is an alias in the statement's snapshot; with `now`,
    their leads queued for rescoring since then. Its rows: the new events' identities, and one row
    of NULLs if an alias stopped it (`aliased`)."""
    source = f"SELECT {', '.join(EVENT_COLUMNS)} FROM v WHERE (SELECT ok FROM g)"
    sql = (
        f"WITH v AS ({JSON_EVENTS}), g AS (SELECT {NO_ALIAS.format('SELECT received_lead_id FROM v')} AS ok), "
        + _insert_cte(source, now is not None)
        + " SELECT event_key, received_lead_id FROM new UNION ALL SELECT NULL, NULL FROM g WHERE NOT g.ok"
    )
    params: list[Any] = [json_text(rows)]
    return sql, params if now is None else [*params, now]


def aliased(stored: Sequence[Sequence[Any]]) -> bool:
    """An `unaliased_insert`'s rows say that an alias stopped it."""
    return any(key is None for key, _ in stored)


def _new_rows(rows: list[dict[str, Any]], stored: set[Identity]) -> tuple[list[dict[str, Any]], list[str]]:
    new = rows if len(stored) == len(rows) else [r for r in rows if identity_of(r) in stored]
    return new, sorted({r["lead_id"] for r in new})


_values = values_sql
_INSERT_EVENTS = INSERT_EVENTS.format("VALUES {}")


def _append_sqlite(cur: Any, rows: list[dict[str, Any]], targets: list[str], now: int) -> tuple[list[Any], list[str]]:
    """Leads, events, queue marks: three statements (BEGIN IMMEDIATE already holds the write lock)."""
    cur.executemany(*new_leads_sql(True, targets, now))
    cur.execute(
        _INSERT_EVENTS.format(_values(len(EVENT_COLUMNS), len(rows), "?")) + " RETURNING event_key, received_lead_id",
        [value for row in event_tuples(rows) for value in row],
    )
    new, touched = _new_rows(rows, set(cur.fetchall()))
    if touched:
        cur.execute(
            f"INSERT INTO pending_rescore (lead_id, since) VALUES {_values(2, len(touched), '?')} "
            "ON CONFLICT (lead_id) DO NOTHING",
            [v for lead in touched for v in (lead, now)],
        )
    return new, touched


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
