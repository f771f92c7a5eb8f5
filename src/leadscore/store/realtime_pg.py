"""A few real-time events on PostgreSQL, stored and scored in two round trips.

Through SQLAlchemy, one event is eight round trips (BEGIN, the alias look-up, the leads' upsert, the
insert, the leads' states, their timelines, the results, COMMIT) and each statement's Python costs
more than running it. Here the same statements go on the database driver in pipeline mode, sent
together wherever one does not need the answer of another:

1. BEGIN; the leads created and locked, the events inserted, the leads' states and timelines read
   back (each statement sees the ones before it: they run in order in the one transaction), under
   the ids as received: the writes do nothing if one of those ids is an alias (an identified
   visitor's, a merged lead's), and then the aliases are looked up and the same statements run
   under the leads they name (two round trips more, for those events only);
2. the results, score and stage history written (the trigger outbox, the rescoring queue's rows when
   there are any), and COMMIT.

The rows written are those of `ingest.ingest_events` with the SQLAlchemy statements
(tests/store/test_realtime_pg.py compares the two table by table), and the scores those of
`pipeline.Evaluator`, which scores what was read here exactly as it scores what it reads itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

from leadscore.domain import Event, Result
from leadscore.store.backends import EVENT_MARKS_PG, INSERT_EVENTS, event_tuples
from leadscore.store.base import LeadStore
from leadscore.store.codec import timeline_id
from leadscore.store.events_repo import TIMELINE_ONE_PG, TIMELINES_PG, event_rows, identity_of, json_value
from leadscore.store.identity import IDENTIFY
from leadscore.store.leads_repo import LOCKING, new_leads_sql, unaliased_leads_sql
from leadscore.store.outbox_repo import ENQUEUED, outbox_rows
from leadscore.store.pipeline import Evaluator, Loaded, Prepared
from leadscore.store.queued_append import aliased, unaliased_insert
from leadscore.store.realtime_conn import autocommit_driver
from leadscore.store.results_repo import (
    RESULTS_PG,
    STATES_ONE_PG,
    STATES_PG,
    driver_insert,
    driver_params,
    result_rows,
    result_writes,
    state_rows,
    write_results,
)
from leadscore.store.retry import retrying
from leadscore.store.tables import outbox

# the rows new to the log, what was scored (None: nothing new), the leads' results as stored (if asked)
Few = tuple[list[dict[str, Any]], Prepared | None, dict[str, Result] | None]
ALIASES = "SELECT alias, lead_id FROM aliases WHERE alias = ANY(%s)"


def plain_batch(batch: Sequence[Event]) -> bool:
    """No identify event (which may merge leads: the general path does that)."""
    return all(e.type != IDENTIFY for e in batch)


def ingest_few(
    evaluator: Evaluator,
    store: LeadStore,
    batch: Sequence[Event],
    now: Callable[[], int],
    fresh_ids: Callable[[list[dict[str, Any]]], dict[str, frozenset[str]]],
    check: Callable[[Prepared], None],
    read_back: bool = False,
) -> Few:
    """Store and score a few plain events (`plain_batch`) in one transaction of their own, committed
    when this returns; run again from scratch when the database asks to retry (a deadlock, a lock
    timeout: `store.retryable`), as `store.transact` runs its transactions.

    Returns the rows new to the log, what was scored (None when nothing was new: nothing is written
    then) and, with `read_back`, the results of the events' leads as stored, read in the transaction
    after its writes (in their round trip) and returned once it committed. `fresh_ids`: per lead, the
    timeline ids of the new rows; `check` runs on the scores before anything is written, and may
    raise to roll back (leadscore.store.ingest's model check)."""

    from psycopg.pq import TransactionStatus  # PostgreSQL's driver: imported only where it is used

    failed = (TransactionStatus.INTRANS, TransactionStatus.INERROR)

    def once() -> Few:
        # The pool's connection itself (no SQLAlchemy Connection: its check-out, BEGIN bookkeeping and
        # check-in cost a twentieth of this path's CPU), in the driver's autocommit mode: its own BEGIN
        # would be a round trip by itself (in pipeline mode it waits for it), while this transaction's
        # BEGIN goes with the first statement.
        with autocommit_driver(store) as raw:
            try:
                return _pipelined(raw, evaluator, batch, read_back, now, fresh_ids, check)
            except BaseException:  # nothing of a failed attempt is kept
                if raw.pgconn.transaction_status in failed:
                    raw.rollback()
                raise

    return retrying(once, store.retryable)


def _pipelined(
    raw: Any, evaluator: Evaluator, batch: Sequence[Event], read_back: bool, *steps: Callable[..., Any]
) -> Few:
    with raw.cursor() as cur, _reader(raw) as state_cur, _reader(raw, text=True) as events_cur:
        # One pipeline throughout: a result fetched in it waits for what was sent up to it (a Flush), and
        # leaving it sends a Sync and waits for the rest, which carries the COMMIT (sent last).
        with raw.pipeline():
            new, scored = _statements((cur, state_cur, events_cur), evaluator, batch, read_back, *steps)
        # the leads' results as written: their rows came back with the COMMIT's round trip
        return new, scored, result_rows(state_cur.fetchall()) if read_back else None


def _statements(
    cursors: tuple[Any, Any, Any], evaluator: Evaluator, batch: Sequence[Event], read_back: bool, *steps: Any
) -> tuple[list[dict[str, Any]], Prepared | None]:
    cur, state_cur, events_cur = cursors
    now, fresh_ids, check = steps
    ids = sorted({e.lead_id for e in batch})
    cur.execute(BEGIN)
    # Under the ids as received unless one is an alias (`unaliased_*`: then nothing is written, and
    # the aliases are looked up, one round trip more): the leads created and locked, the events
    # inserted, the leads' states and timelines read back (each statement sees the ones before it:
    # they run in order in the one transaction).
    at = now()
    rows = event_rows(batch, {}, at)
    cur.execute(*unaliased_leads_sql(ids, at))
    cur.execute(*unaliased_insert(rows, None))
    _read_leads(state_cur, events_cur, ids)
    found = cur.fetchall()
    if aliased(found):
        state_cur.fetchall(), events_cur.fetchall()  # read for nothing: an alias stopped the writes
        cur.execute(ALIASES, (ids,))
        rows = event_rows(batch, dict(cur.fetchall()), at)
        targets = sorted({r["lead_id"] for r in rows})  # one order for every writer: no deadlock
        cur.execute(*new_leads_sql(False, targets, at, LOCKING))
        sql = INSERT_EVENTS.format("VALUES " + ", ".join([EVENT_MARKS_PG] * len(rows)))
        cur.execute(sql + " RETURNING event_key, received_lead_id", [v for row in event_tuples(rows) for v in row])
        _read_leads(state_cur, events_cur, targets)
        found = cur.fetchall()
    stored = set(found)
    new = rows if len(stored) == len(rows) else [r for r in rows if identity_of(r) in stored]
    states, timelines = state_cur.fetchall(), events_cur.fetchall()
    scored = None
    if new:  # else nothing is written (the leads of stored events exist)
        touched = {r["lead_id"] for r in new}
        state = Loaded({}, {}, None, set(), defaultdict(list), {})
        mine = (s for s in states if s[0] in touched)
        state.active = state_rows(mine, state.leads, state.previous, state.queued, None)
        _timeline_rows((e for e in timelines if e[1] in touched), state.timelines, state.seqs)
        scored = evaluator.score_loaded(state, at, fresh=fresh_ids(new))
        check(scored)
        done = scored.done
        writes = result_writes(scored.items, scored.previous, "event", scored.seen)
        # in the results' statement (each write a clause of its `WITH`: one statement to send, not three)
        also: list[tuple[str, Sequence[Any]]] = []
        if messages := outbox_rows(done.firings, at):  # as `outbox_repo.enqueue`
            also.append(_outbox_insert(messages))
        if scored.queued:  # queued by an earlier deferred intake: now current (as `pending.clear`)
            also.append(("DELETE FROM pending_rescore WHERE lead_id = ANY(%s)", (sorted(scored.queued),)))
        write_results(cur, writes, also)
        done.changed = len(writes[2])
    if read_back:  # the leads' results as written, as `load_results` reads them
        state_cur.execute(RESULTS_PG, (sorted({r["lead_id"] for r in rows}),))
    # a failure of any statement raises when the pipeline ends, and the transaction rolls back
    cur.execute("COMMIT")
    return new, scored


# Each event read, by its row's content: a lead's log is read whole for each of its real-time events,
# and decoding its rows' properties and building their Events cost more than reading them. The key
# is everything the Event is made of (not the row's position: any store, any database, the same
# content gives the same Event), so what it finds is what decoding the row would give.
_EVENTS: dict[tuple[Any, ...], Event] = {}
EVENTS_KEPT = 100_000  # at most this many (then emptied: the next reads fill it again)


def _timeline_rows(rows: Iterable[Sequence[Any]], out: dict[str, list[Event]], seqs: dict[str, list[int]]) -> None:
    """`events_repo.timeline_rows` of `TIMELINES_PG` rows whose properties are JSON text (`_reader(raw,
    text=True)`), each Event built once per content (`_EVENTS`)."""
    known = _EVENTS
    for row in rows:
        content = tuple(row[:6])
        event = known.get(content)
        if event is None:
            key, lead_id, received, type_, ts, text = content
            event_id = key if received == lead_id else timeline_id(key, lead_id, received)
            event = Event.stored(lead_id, type_, ts, json_value(text), event_id)
            if len(known) >= EVENTS_KEPT:
                known.clear()
            known[content] = event
        out[event.lead_id].append(event)
        seqs.setdefault(event.lead_id, []).append(row[6])


def _read_leads(state_cur: Any, events_cur: Any, ids: list[str]) -> None:
    """The leads' states and timelines read (`ids` sorted), one lead's by statements the server plans
    once (`STATES_ONE_PG`, `TIMELINE_ONE_PG`)."""
    if len(ids) == 1:
        state_cur.execute(STATES_ONE_PG, (ids[0],))
        events_cur.execute(TIMELINE_ONE_PG, (ids[0],))
    else:
        state_cur.execute(STATES_PG, (ids,))
        events_cur.execute(TIMELINES_PG, (ids,))


def _reader(raw: Any, text: bool = False) -> Any:
    """A cursor of `raw` reading JSON with `_json_loader`, or, with `text`, as its text, undecoded (the
    connection's other cursors keep theirs)."""
    cur = raw.cursor()
    for kind in ("json", "jsonb"):
        cur.adapters.register_loader(kind, _text_loader() if text else _json_loader())
    return cur


@cache
def _json_loader() -> type:
    """psycopg's JSON loader, as `json.loads` reads PostgreSQL's JSON text (`events_repo.json_value`:
    its C scanner, the same values), without the wrapper's encoding detection and whitespace checks,
    which cost more than the scan for the small objects of a lead's log (read whole for every
    real-time event)."""
    from psycopg.adapt import Loader

    class JsonText(Loader):
        def load(self, data: Any) -> Any:
            return json_value(str(data, "utf-8"))

    return JsonText


@cache
def _text_loader() -> type:
    """JSON as its text (decoded, if at all, by `_timeline_rows`)."""
    from psycopg.adapt import Loader

    class JsonAsText(Loader):
        def load(self, data: Any) -> Any:
            return str(data, "utf-8")

    return JsonAsText


BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"  # as SQLAlchemy's transactions begin on PostgreSQL


def _outbox_insert(messages: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """`outbox_repo.enqueue`'s rows as one multi-row INSERT skipping stored keys: numbered in their
    order, as its one-row statements, one after the other, number them; a key given twice is written
    once (the first), as there."""
    sql, names, json_cols = driver_insert(outbox, " ON CONFLICT DO NOTHING", ENQUEUED, len(messages))
    return sql, [value for row in driver_params(messages, names, json_cols) for value in row]
