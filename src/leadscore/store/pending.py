"""The rescoring queue: leads whose stored events their stored result does not include yet.

The fast intake (`ingest_events(..., defer=True)`) appends events and marks their leads here in the
same transaction, then acknowledges: the mark is as durable as the events, so a process killed
before rescoring leaves it for the next one. `drain` rescores marked leads from their whole log, a
batch of leads per transaction, and removes their marks in that transaction; the result is the pure
scorer's, exactly as if the events had been rescored when stored.

Concurrency: every writer of a lead's events holds the lead's lock (`LeadStore.lock_leads`) while it
appends and marks, and `drain` reads a lead's timeline only after taking the same lock, so an event
is either in the timeline the drain scores or committed after the drain (and marked again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.store.base import LeadStore
from leadscore.store.leads_repo import chunks
from leadscore.store.pipeline import Evaluator, Rescored
from leadscore.store.tables import pending_rescore

log = logging.getLogger(__name__)
DRAIN_LEADS = 200  # leads per drain transaction: short transactions keep acknowledgements waiting little


def mark(conn: Connection, lead_ids: Sequence[str], at: int) -> None:
    """Queue the leads for rescoring (a lead already queued keeps its first time)."""
    if not lead_ids:
        return
    if conn.dialect.paramstyle == "qmark":
        sql = "INSERT INTO pending_rescore (lead_id, since) VALUES (?, ?) ON CONFLICT (lead_id) DO NOTHING"
    else:
        sql = "INSERT INTO pending_rescore (lead_id, since) VALUES (%s, %s) ON CONFLICT (lead_id) DO NOTHING"
    conn.exec_driver_sql(sql, [(lead, at) for lead in sorted(set(lead_ids))])


def clear(conn: Connection, lead_ids: Sequence[str]) -> None:
    """Unqueue leads whose results were just written from their whole log (cheap when none is queued)."""
    if not lead_ids or conn.execute(sa.select(pending_rescore.c.lead_id).limit(1)).first() is None:
        return
    for part in chunks(sorted(set(lead_ids))):
        conn.execute(pending_rescore.delete().where(pending_rescore.c.lead_id.in_(part)))


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


def _take(store: LeadStore, conn: Connection, limit: int) -> list[str]:
    """The longest-waiting queued leads; on PostgreSQL, rows another drain holds are skipped, so two
    server processes drain different leads."""
    query = sa.select(pending_rescore.c.lead_id).order_by(pending_rescore.c.since, pending_rescore.c.lead_id)
    query = query.limit(limit)
    if store.name == "postgres":
        query = query.with_for_update(skip_locked=True)
    return [str(lead) for lead in conn.execute(query).scalars()]


@dataclass
class Drained:
    taken: int  # leads unqueued (0: the queue was empty); an erased lead is unqueued, not rescored
    rescored: Rescored


def drain(store: LeadStore, evaluator: Evaluator, now: Callable[[], int], limit: int = DRAIN_LEADS) -> Drained:
    """Rescore up to `limit` queued leads in one transaction and unqueue them. A lead that the model
    cannot score keeps its stored result (logged) and leaves the queue, so it never holds the others
    back."""

    def work(conn: Connection) -> Drained:
        ids = _take(store, conn, limit)
        if not ids:
            return Drained(0, Rescored())
        at = now()
        store.lock_leads(conn, ids)
        done = evaluator.rescore(store, conn, ids, at, "event", skip_bad=True)
        for failure in done.failed:
            log.warning("a queued lead could not be rescored and keeps its result: %s", failure)
        for part in chunks(ids):
            conn.execute(pending_rescore.delete().where(pending_rescore.c.lead_id.in_(part)))
        return Drained(len(ids), done)

    return store.transact(work)


def drain_all(store: LeadStore, evaluator: Evaluator, now: Callable[[], int], limit: int = DRAIN_LEADS) -> int:
    """Drain until the queue is empty (as seen by this process); returns the leads rescored."""
    total = 0
    while True:
        done = drain(store, evaluator, now, limit)
        if done.taken == 0:
            return total
        total += done.rescored.leads
