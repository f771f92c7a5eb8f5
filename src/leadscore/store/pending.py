"""The rescoring queue: leads whose stored events their stored result does not include yet.

The fast intake (`ingest_events(..., defer=True)`) appends events and marks their leads here in the
same transaction, then acknowledges: the mark is as durable as the events, so a process killed
before rescoring leaves it for the next one. `drain` rescores marked leads from their whole log, a
batch of leads per transaction, and removes their marks in that transaction; the result is the pure
scorer's, exactly as if the events had been rescored when stored.

Concurrency: every writer of a lead's events marks the lead under the lead's lock
(`LeadStore.lock_leads`), in the transaction that appends them (the bulk intake appends first and
takes the locks after: events nobody can read before the commit need no lock), and `drain` checks
what it read of a lead under the same lock, so an event is either in the timeline the drain scores
or committed after the drain (and marked again).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.engine.timeline import Timeline
from leadscore.store.base import LeadStore
from leadscore.store.drain_reads import stamps, states_and_stamps
from leadscore.store.leads_repo import MANY_IDS, chunks, ids_json
from leadscore.store.pipeline import Evaluator, Loaded, Prepared, Rescored
from leadscore.store.retry import sqlite_busy
from leadscore.store.tables import pending_rescore
from leadscore.store.timeline_cache import for_store

log = logging.getLogger(__name__)
DRAIN_LEADS = 200  # leads per drain transaction: short transactions keep acknowledgements waiting little


@contextlib.contextmanager
def writer_turn(store: LeadStore, look: bool = True) -> Iterator[None]:
    """Hold the turn of the intake's writers of an SQLite file (the API's group commit, the drain in the
    rescoring process) for one write transaction.

    SQLite has one write lock, and a writer that finds it taken waits in SQLite's busy handler, which
    sleeps 1, 2, 5, 10 ms... before it looks again: with one client, the commit of its next event met
    the drain of its previous one half the time (strace: a sleep of the committer for every other
    event), a millisecond or more added to a round trip of two. Writers that take turns here wait in
    the kernel on an `flock` of a file beside the database and go on as soon as the other is done. The
    file is opened for each turn (an open and a close: microseconds), so threads of one process take
    turns too, and a process killed while it holds the turn loses it with its file descriptors. The
    API's bulk requests take the turn too (leadscore.api.intake). Other writers (the CLI, the API's
    other routes) still meet the lock in SQLite's busy handler; the writer whose turn it is looks for
    the lock every millisecond instead (`_await_write_lock`), so that it is not the one left waiting
    behind them. `look=False`: the caller's own BEGIN looks for it so (`realtime_conn.begin_immediate`),
    without a look of its own (a BEGIN IMMEDIATE and a ROLLBACK on another connection) first.
    """
    path = store.sqlite_file()
    fd = None
    if path is not None:  # PostgreSQL: row locks, no single write lock
        try:
            import fcntl

            fd = os.open(path + "-writer", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except (ImportError, OSError):  # not a POSIX system, a folder not writable: the busy handler alone
            fd = None
    if fd is None or path is None:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if look:
            _await_write_lock(path)
        yield
    finally:
        os.close(fd)  # releases the lock


LOOK_EVERY_S = 0.001
LOOK_FOR_S = 10.0  # then the caller's BEGIN waits in SQLite's busy handler, as without looking
_lookout = threading.local()  # per thread, a connection per database file, that never writes


def _await_write_lock(path: str) -> None:
    """Return once SQLite's write lock of the file at `path` is free (or after LOOK_FOR_S), looking
    every LOOK_EVERY_S with a BEGIN IMMEDIATE that does not wait, rolled back at once.

    During bulk requests (10,000 events each, write transactions of a few hundred ms one after the
    other) a drain waited for the lock in SQLite's busy handler, whose sleeps grow to 100 ms: the bulk
    writer that slept least took the lock each time it came free, and the drain waited 3.1 s, through
    every bulk request (traced, load 11), holding the writers' turn, so the group commit of the
    events sent meanwhile (their acknowledgements) waited as long. Looking costs microseconds when the
    lock is free; the caller's own BEGIN IMMEDIATE follows at once."""
    conns: dict[str, sqlite3.Connection] = _lookout.__dict__.setdefault("conns", {})
    conn = conns.get(path)
    if conn is None:
        try:  # mode=rw: a removed database is not created again (`store_gone`)
            conn = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=0, isolation_level=None)
        except sqlite3.Error:
            return
        conns[path] = conn
    deadline = time.monotonic() + LOOK_FOR_S
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not sqlite_busy(exc) or time.monotonic() > deadline:
                return
            time.sleep(LOOK_EVERY_S)
            continue
        conn.execute("ROLLBACK")
        return


def store_gone(store: LeadStore, exc: BaseException | None = None) -> bool:
    """Whether the store's database no longer exists: its SQLite file removed (a pooled connection
    would go on reading the unlinked file), or, as `exc` raised by a drain says, its PostgreSQL database
    dropped. No retry can succeed, and a worker that kept polling would do so for the rest of its
    process's life (logging a failure a second on PostgreSQL)."""
    path = store.sqlite_file()
    if path is not None:
        return not os.path.exists(path)
    if exc is None:
        return False
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == "3D000":  # invalid_catalog_name, on a live connection
        return True
    # a new connection to a dropped database fails before any SQLSTATE: only the server's message says why
    text = str(orig)
    return "FATAL:" in text and "database" in text and "does not exist" in text


def mark(conn: Connection, lead_ids: Sequence[str], at: int) -> None:
    """Queue the leads for rescoring (a lead already queued keeps its first time)."""
    if not lead_ids:
        return
    ids = sorted(set(lead_ids))  # one order for every writer: no deadlock
    if conn.dialect.paramstyle == "qmark":  # SQLite: under the write lock already held
        if len(ids) > MANY_IDS:  # a bulk request's leads: one statement over a JSON array (leads_repo)
            sql = (
                "INSERT INTO pending_rescore (lead_id, since) SELECT value, ? FROM json_each(?) WHERE true "
                "ON CONFLICT (lead_id) DO NOTHING"
            )
            conn.exec_driver_sql(sql, (at, ids_json(ids)))
            return
        sql = "INSERT INTO pending_rescore (lead_id, since) VALUES (?, ?) ON CONFLICT (lead_id) DO NOTHING"
        conn.exec_driver_sql(sql, [(lead, at) for lead in ids])
        return
    # PostgreSQL: one statement for every lead (an executemany is a statement each, 2,000 for a
    # 10,000-event request, about a third of its server CPU)
    sql = (
        "INSERT INTO pending_rescore (lead_id, since) SELECT lead_id, %s FROM unnest(CAST(%s AS text[])) AS t(lead_id) "
        "ORDER BY lead_id ON CONFLICT (lead_id) DO NOTHING"
    )
    conn.exec_driver_sql(sql, (at, ids))


# built once: SQLAlchemy reuses its compiled form
_UNQUEUE = pending_rescore.delete().where(pending_rescore.c.lead_id.in_(sa.bindparam("ids", expanding=True)))


def clear(conn: Connection, lead_ids: Sequence[str]) -> None:
    """Unqueue leads whose results were just written from their whole log.

    One DELETE by primary key: when none is queued it writes nothing, and asking first whether the
    queue is empty would be a second statement for the common case of one lead."""
    if not lead_ids:
        return
    for part in chunks(sorted(set(lead_ids))):
        conn.execute(_UNQUEUE, {"ids": list(part)})


def is_pending(conn: Connection, lead_id: str) -> bool:
    query = sa.select(pending_rescore.c.lead_id).where(pending_rescore.c.lead_id == lead_id)
    return conn.execute(query).first() is not None


@dataclass(frozen=True)
class Backlog:
    leads: int
    oldest_us: int | None  # when the longest-waiting lead was marked


def backlog(conn: Connection) -> Backlog:
    count, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(pending_rescore.c.since))).one()
    return Backlog(int(count), None if oldest is None else int(oldest))


# A commit that queued at most REALTIME_LEADS leads, within the last REALTIME_S, is real-time traffic
# (the group commit of single events; a bulk request of 10,000 events queues about 2,000 leads).
REALTIME_LEADS = 128
REALTIME_S = 2.0
Which = Literal["all", "realtime", "backlog"]


def _take(store: LeadStore, conn: Connection, limit: int, which: Which = "all", at: int = 0) -> tuple[list[str], bool]:
    """The leads a drain takes, and whether other leads are queued beside them.

    "realtime": the leads queued by recent small commits (`REALTIME_LEADS`, `REALTIME_S`, told apart by
    their shared `since`: one commit marks its leads at one time), oldest first; "backlog": the
    longest-waiting leads; "all": the real-time leads, then the longest-waiting ones. A real-time
    event behind a bulk import's backlog is then scored in the next drain, not after the backlog
    (which a bulk commit queued after it would put it behind, oldest first). Without `at` nothing
    counts as real-time. On PostgreSQL, rows another drain holds are skipped, so two server processes
    drain different leads. "Other leads queued": for "realtime", leads that are not real-time (the
    backlog: a drain of its own); otherwise, the take was full."""
    skip = store.name == "postgres"
    ids: list[str] = []
    if which != "backlog" and at:
        params = {"horizon": at - int(REALTIME_S * 1_000_000), "small": REALTIME_LEADS, "limit": limit}
        ids = [str(lead) for lead in conn.execute(_REALTIME_SKIP_LOCKED if skip else _REALTIME, params).scalars()]
    if which == "realtime":
        # Not "more rows than taken": on PostgreSQL each statement sees the commits made since the one
        # before, and under the 8-client load a group commit landing between the two made a backlog
        # drain of its few real-time leads a round (8 clients: 1,482-1,526 -> 555-746 events/s, the
        # rescoring's CPU per event 0.12-0.13 -> 0.18-0.23 ms, near load 9)
        params = {"horizon": at - int(REALTIME_S * 1_000_000), "small": REALTIME_LEADS}
        return ids, conn.execute(_BACKLOG_QUEUED, params).first() is not None
    if len(ids) < limit:
        # this transaction's own rows are not skipped (PostgreSQL): those taken above may come again
        oldest = conn.execute(_TAKE_SKIP_LOCKED if skip else _TAKE, {"limit": limit}).scalars().all()
        ids = list(dict.fromkeys([*ids, *(str(lead) for lead in oldest)]))[:limit]
    return ids, len(ids) >= limit


_TAKE = (
    sa.select(pending_rescore.c.lead_id)
    .order_by(pending_rescore.c.since, pending_rescore.c.lead_id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
_TAKE_SKIP_LOCKED = _TAKE.with_for_update(skip_locked=True)
_SMALL_COMMITS = (
    sa.select(pending_rescore.c.since)
    .where(pending_rescore.c.since >= sa.bindparam("horizon", type_=sa.BigInteger))
    .group_by(pending_rescore.c.since)
    .having(sa.func.count() <= sa.bindparam("small", type_=sa.Integer))
)
_REALTIME = (
    sa.select(pending_rescore.c.lead_id)
    .where(pending_rescore.c.since.in_(_SMALL_COMMITS))
    .order_by(pending_rescore.c.since, pending_rescore.c.lead_id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)
_REALTIME_SKIP_LOCKED = _REALTIME.with_for_update(skip_locked=True)
_BIG_COMMITS = (
    sa.select(pending_rescore.c.since)
    .where(pending_rescore.c.since >= sa.bindparam("horizon", type_=sa.BigInteger))
    .group_by(pending_rescore.c.since)
    .having(sa.func.count() > sa.bindparam("small", type_=sa.Integer))
)
# one queued lead that is not real-time, if any
_BACKLOG_QUEUED = (
    sa.select(pending_rescore.c.lead_id)
    .where(
        sa.or_(
            pending_rescore.c.since < sa.bindparam("horizon", type_=sa.BigInteger),
            pending_rescore.c.since.in_(_BIG_COMMITS),
        )
    )
    .limit(1)
)


@dataclass
class Drained:
    taken: int  # leads unqueued (0: the queue was empty); an erased lead is unqueued, not rescored
    rescored: Rescored
    # the store's active model is not the evaluator's (applied by another process): nothing was written
    # nor unqueued; drain again with the evaluator of the active model
    model_changed: bool = False
    more: bool = False  # other leads were queued when this drain took its own (`_take`)
    busy: int = 0  # leads left queued: another transaction held them (PostgreSQL), a later drain's


@dataclass
class _Read:
    ids: list[str]
    before: dict[str, tuple[Any, ...]]
    scored: Prepared
    more: bool


def drain(
    store: LeadStore, evaluator: Evaluator, now: Callable[[], int], limit: int = DRAIN_LEADS, which: Which = "all"
) -> Drained:
    """Rescore up to `limit` queued leads (`which`: see `_take`) and unqueue them.

    The scoring runs without the leads' locks (on SQLite, outside the write transaction, whose lock
    every writer shares, acknowledgements included): the leads are read and scored first, then
    written under their locks if nothing they depend on changed meanwhile (`_stamps`, read before
    the data, so a change that lands between the reads counts as a change); a lead that did change
    is rescored again under its lock. On PostgreSQL it all runs in one transaction that holds the
    queue rows it took (`SKIP LOCKED`: two server processes drain different leads); the worker's drains
    ("realtime", "backlog") also skip the leads another transaction holds, which stay queued
    (`Drained.busy`). A lead that the model cannot score keeps its stored result (logged) and leaves
    the queue.
    """
    at = now()
    if store.name == "postgres":

        def whole(conn: Connection) -> Drained:
            read = _read(store, evaluator, conn, at, limit, which)
            if not read.ids:
                return Drained(0, Rescored(), more=read.more)
            return _write(store, evaluator, conn, read, at, which, now)

        return store.transact(whole)
    with store.read() as conn:
        read = _read(store, evaluator, conn, at, limit, which)
    if not read.ids:
        return Drained(0, Rescored(), more=read.more)
    with writer_turn(store):
        return store.transact(lambda conn: _write(store, evaluator, conn, read, at, which, now))


def _read(store: LeadStore, evaluator: Evaluator, conn: Connection, at: int, limit: int, which: Which) -> _Read:
    ids, more = _take(store, conn, limit, which, at)
    if not ids:
        return _Read([], {}, Prepared(Rescored(), [], {}), more)
    if which == "all":  # another caller's drain (a file ingest's last rounds): no copies kept for it
        before, _ = stamps(conn, ids)
        return _Read(ids, before, evaluator.prepare(conn, ids, at, skip_bad=True), more)
    # the worker's drains: what `evaluator.prepare` reads, with the stamps in the same statement
    # (leadscore.store.drain_reads), the timelines from the drains' copies
    # (leadscore.store.timeline_cache), checked against those stamps
    before, scored = _score(store, evaluator, conn, ids, at)
    return _Read(ids, before, scored, more)


def _score(
    store: LeadStore, evaluator: Evaluator, conn: Connection, ids: list[str], at: int
) -> tuple[dict[str, tuple[Any, ...]], Prepared]:
    """The leads' stamps and scores, as `evaluator.prepare` reads and scores them but the timelines
    from the drains' copies: the events appended since a copy, checked against the stamps read with
    the leads' states. A stale lead rescored under the lock so reads only the events appended since
    its first read, where `evaluator.rescore` read its whole log again."""
    queued: set[str] = set()
    stamps, found, previous, active = states_and_stamps(conn, ids, queued)
    built: dict[str, Timeline] = {}  # the engine's timelines the copies keep, extended with what was appended
    timelines, seqs = for_store(store).timelines(conn, sorted(found), stamps, at, built)
    state = Loaded(found, previous, active, queued, timelines, seqs, built)
    scored = evaluator.score_loaded(state, at, skip_bad=True)
    return stamps, scored


def _write(
    store: LeadStore, evaluator: Evaluator, conn: Connection, read: _Read, at: int, which: Which, now: Callable[[], int]
) -> Drained:
    # the worker's drains ("realtime", "backlog") come back for a held lead; another caller's ("all": a
    # file ingest's last rounds) may be the last drain for a while, and waits for it as before
    if which == "all":
        store.lock_leads(conn, read.ids)
        locked = set(read.ids)
    else:
        locked = _lock_free(store, conn, read.ids)
    after, active = stamps(conn, read.ids)
    # a model applied meanwhile: the next drain uses it. The store names a model by its fingerprint
    # (`scorer.model_version`); the evaluator's `version` also covers trained artifacts
    if active != evaluator.scorer.model_version:
        return Drained(len(read.ids), Rescored(), model_changed=True, more=read.more)
    # a lead another writer holds (a bulk request's, on PostgreSQL) stays queued for a later drain; one
    # erased meanwhile (no stamp) has nothing to wait for and leaves the queue
    busy = {lead for lead in read.ids if lead not in locked and after[lead]}
    ids = [lead for lead in read.ids if lead not in busy]
    stale = sorted(lead for lead in ids if after[lead] != read.before[lead])
    scored = _only(read.scored, set(ids) - set(stale)) if stale or busy else read.scored
    # written meanwhile: scored again below, under the lock this time
    done = evaluator.write(store, conn, scored, at, "event")
    if stale:
        # At a time read now, under the lock, not at the drain's `at` (read before it scored): what made a
        # lead stale is another writer's commit, whose own time (and its events': a stage move, an
        # outcome recorded "now") may be after `at`. Scored at `at`, such an event was still in the
        # future: its result was replaced by an older one without it, and the lead left the queue.
        again_at = max(at, now())
        if which == "all":
            again = evaluator.rescore(store, conn, stale, again_at, "event", skip_bad=True)
        else:  # the worker's: the leads just read again from the drains' copies, under the lock now
            scored_again = _score(store, evaluator, conn, stale, again_at)[1]
            again = evaluator.write(store, conn, scored_again, again_at, "event")
        done.leads += again.leads
        done.changed += again.changed
        done.firings.extend(again.firings)
        done.failed.extend(again.failed)
    for failure in done.failed:
        log.warning("a queued lead could not be rescored and keeps its result: %s", failure)
    for part in chunks(ids):
        conn.execute(_UNQUEUE, {"ids": list(part)})
    return Drained(len(ids), done, more=read.more, busy=len(busy))


def _only(scored: Prepared, keep: set[str]) -> Prepared:
    """`scored` for the leads in `keep` alone."""
    items = [(r, nxt) for r, nxt in scored.items if r.lead_id in keep]
    firings = [f for f in scored.done.firings if f.lead_id in keep]
    done = Rescored(len(items), 0, firings, failed=scored.done.failed)
    seen = {lead: n for lead, n in scored.seen.items() if lead in keep}
    return replace(scored, done=done, items=items, seen=seen)


# Without waiting: rows a bulk request holds until it commits are skipped, not waited for (a drain of
# 200 leads waited 0.6-1.2 s so under load, traced, and the real-time leads drained with them as long).
# The ids joined from the array: `id = ANY(%s)`, once the driver prepared the statement and the server
# took its generic plan, compared every row of `leads` with each id of the array in turn (a parameter's
# array is not hashed as a literal one is): 10.8 ms of the server's time for a drain of 200 leads among
# 2,000, the most expensive statement of the drains; joined, each id is one look-up.
_LOCK_FREE_PG = (
    "SELECT l.id FROM unnest(CAST(%s AS text[])) AS t(id) JOIN leads AS l ON l.id = t.id "
    "ORDER BY l.id FOR UPDATE OF l SKIP LOCKED"
)


def _lock_free(store: LeadStore, conn: Connection, lead_ids: Sequence[str]) -> set[str]:
    """Lock those of the leads that no other transaction holds (`store.lock_leads`, without waiting), and
    say which: on SQLite all of them (the write transaction holds the one write lock already)."""
    if store.name != "postgres":
        store.lock_leads(conn, lead_ids)
        return set(lead_ids)
    locked: set[str] = set()
    for part in chunks(sorted(set(lead_ids))):
        locked.update(str(lead) for (lead,) in conn.exec_driver_sql(_LOCK_FREE_PG, (list(part),)))
    return locked
