"""The intake's deferred append of a few events on the database driver (`append_queued`): the events
stored, their leads created and queued for rescoring, in one short transaction (the API's group
commit). PostgreSQL's rows go as one JSON parameter (`unaliased_insert`, also the real-time path's
insert in leadscore.store.realtime_pg)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from leadscore.domain import Event
from leadscore.store.backends import EVENT_COLUMNS, EVENT_MARKS_PG, INSERT_EVENTS, event_tuples, json_text, values_sql
from leadscore.store.base import LeadStore
from leadscore.store.events_repo import Identity, event_rows, identity_of
from leadscore.store.leads_repo import LOCKING, NO_ALIAS, new_leads_sql, unaliased_leads_sql
from leadscore.store.realtime_conn import HeldDriver, autocommit_driver, begin_immediate, broken
from leadscore.store.retry import retrying

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
