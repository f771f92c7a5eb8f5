"""The rescoring queue drained in bulk: what a big event file's ingest does once its events are stored.

A file ingest of many events stores them batch by batch with their leads queued (`store.pending`), as
the API's deferred intake does, then rescores every queued lead once through the batch engine over
the store (`rescore_store`), instead of rescoring each batch's leads by the pure scorer as it goes.
Each queued lead is rescored from its whole log, as `pending.drain` would, so what is stored is what
the pure path stores (results, score history, stage history, outbox).

The queue's marks are removed in the transaction that writes the results. A lead that got events
after the export was read (another writer) stays queued, and is queued again if another writer's
rescoring unqueued it meanwhile: the results written here may not include those events, and the
next drain rescores it from its whole log. "After" is told by sequence number, read before the export
(`settled_last_seq`): on PostgreSQL a number is taken at insert but seen at commit, so that read first
waits for the writers in flight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from leadscore.bulk.rescore import BatchRescored, writable
from leadscore.bulk.settle import Marks, marks
from leadscore.bulk.writeback import rescore_store

if TYPE_CHECKING:
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

__all__ = ["rescore_queued", "settled_last_seq", "writable"]

QUEUED = "SELECT lead_id FROM pending_rescore"


def _settle(store: LeadStore, at: int, seen: Marks) -> list[sa.Executable]:
    """In the results' transaction: for the queued leads whose every event the export could read
    (numbered up to the marks read before the export, `Marks.after`), how many events their results
    are from (so that the real-time path resumes their replay, as after a pure rescoring), then
    unqueue them; queue again the leads with later events (another writer's, whose rescoring may have
    unqueued them)."""
    m = seen.after(store, "events")
    # one pass over the queued leads' events, and the log's tail by its key (`seq`): no per-row look-up
    basis = sa.text(
        "INSERT INTO result_basis (lead_id, events_seen) SELECT e.lead_id, count(*) FROM events AS e "
        f"JOIN pending_rescore AS p ON p.lead_id = e.lead_id GROUP BY e.lead_id HAVING max(e.seq) <= {m} "
        "ON CONFLICT (lead_id) DO UPDATE SET events_seen = excluded.events_seen"
    )
    unqueue = sa.text(f"DELETE FROM pending_rescore WHERE lead_id NOT IN (SELECT lead_id FROM events WHERE seq > {m})")
    requeue = sa.text(
        f"INSERT INTO pending_rescore (lead_id, since) SELECT DISTINCT e.lead_id, {int(at)} FROM events AS e "
        f"WHERE e.seq > {m} AND NOT EXISTS (SELECT 1 FROM pending_rescore AS q WHERE q.lead_id = e.lead_id)"
    )
    return [basis, unqueue, requeue]


def settled_last_seq(store: LeadStore) -> int:
    """The highest event sequence number such that every event numbered up to it is committed: on
    PostgreSQL a writer takes its number at insert and shows its row at commit, so the read first waits
    for the writers in flight (`settle.marks`), else an export read now could miss an event numbered
    below the highest committed one while the check after the write (`_settle`) counted it as read."""
    return marks(store).events


def rescore_queued(store: LeadStore, evaluator: Evaluator, at: int) -> BatchRescored | None:
    """Rescore every queued lead at `at` in bulk (cause "event") and unqueue them in the same
    transaction; None when the model or the stored data needs the pure scorer (nothing written)."""
    if not writable(evaluator):
        return None
    return rescore_store(store, evaluator, at, "event", ids=QUEUED, activation=_settle(store, at, marks(store)))
