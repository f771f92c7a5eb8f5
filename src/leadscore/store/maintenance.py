"""Work over many leads: time-driven refresh, model plan (dry run) and model apply.

Both walk the leads in id order, one batch per transaction, so memory stays bounded and an
interrupted run can simply be started again (a refresh or apply that stopped half-way leaves the
rest of the leads due: under the old model version, or past their `next_change_at`).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.store.base import LeadStore
from leadscore.store.ingest import Clock
from leadscore.store.pipeline import Evaluator, Rescored
from leadscore.store.tables import leads, results


def _due(conn: Connection, at: int, version: str, after: str, limit: int) -> list[str]:
    """Leads past their next change, under another model version, or never scored; in id order."""
    stale = (
        sa.select(results.c.lead_id.label("id"))
        .where(results.c.lead_id > after)
        .where(sa.or_(results.c.next_change_at <= at, results.c.model_version != version))
    )
    unscored = (
        sa.select(leads.c.id).where(leads.c.id > after).where(~sa.exists().where(results.c.lead_id == leads.c.id))
    )
    union = sa.union(stale, unscored).subquery()
    return list(conn.execute(sa.select(union.c.id).order_by(union.c.id).limit(limit)).scalars())


def refresh(store: LeadStore, evaluator: Evaluator, now: Clock, batch_size: int = 5000) -> Rescored:
    """Re-evaluate only the leads whose stored result can have changed since it was computed."""
    total = Rescored()
    after = ""
    while True:
        at = now()
        with store.read() as conn:
            ids = _due(conn, at, evaluator.version, after, batch_size)
        if not ids:
            return total

        def work(conn: Connection, ids: list[str] = ids, at: int = at) -> Rescored:
            store.lock_leads(conn, ids)
            return evaluator.rescore(store, conn, ids, at, "refresh")

        done = store.transact(work)
        total.leads += done.leads
        total.changed += done.changed
        total.firings.extend(done.firings)
        after = ids[-1]


def all_lead_batches(store: LeadStore, batch_size: int) -> Iterator[list[str]]:
    after = ""
    while True:
        with store.read() as conn:
            query = sa.select(leads.c.id).where(leads.c.id > after).order_by(leads.c.id).limit(batch_size)
            ids = list(conn.execute(query).scalars())
        if not ids:
            return
        yield ids
        after = ids[-1]


def score_all(store: LeadStore, evaluator: Evaluator, at: int, batch_size: int = 5000) -> Iterator[Rescored]:
    """Every lead scored under `evaluator`'s model at `at`, without writing, with its stored result.

    The seam for a faster engine: anything yielding the same batches can replace it.
    """
    # --- batch engine hook (leadscore.batch.store): whole-store scoring in DuckDB when the model allows
    from leadscore.batch.store import score_store

    fast = score_store(store, evaluator, at, batch_size)
    if fast is not None:
        yield from fast
        return
    # --- end of hook
    for ids in all_lead_batches(store, batch_size):
        with store.read() as conn:
            yield evaluator.rescore(store, conn, ids, at, "plan", write=False, keep=True)


@dataclass
class Plan:
    version: str
    leads: int = 0
    score_changed: int = 0
    labels_changed: Counter[str] = field(default_factory=Counter)
    stage_changed: int = 0
    playbook_changed: int = 0
    triggers: Counter[str] = field(default_factory=Counter)
    movers: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.version,
            "leads": self.leads,
            "score_changed": self.score_changed,
            "labels_changed": dict(self.labels_changed),
            "stage_changed": self.stage_changed,
            "playbook_changed": self.playbook_changed,
            "triggers": dict(self.triggers),
            "top_movers": self.movers,
        }


def plan(store: LeadStore, evaluator: Evaluator, at: int, top: int = 10, batch_size: int = 5000) -> Plan:
    """What applying the model would change on today's data; writes nothing."""
    out = Plan(evaluator.version)
    heap: list[tuple[float, str, dict[str, Any]]] = []
    for done in score_all(store, evaluator, at, batch_size):
        out.leads += done.leads
        for firing in done.firings:
            out.triggers[firing.trigger_id] += 1
        for new in done.results:
            old = done.previous.get(new.lead_id)
            before = old.score if old else 0.0
            if old is None or old.score != new.score:
                out.score_changed += 1
            for name, label in new.labels.items():
                if old is None or old.labels.get(name) != label:
                    out.labels_changed[name] += 1
            if old is None or old.stage != new.stage:
                out.stage_changed += int(new.stage is not None or (old is not None and old.stage is not None))
            old_pb = old.playbook.name or old.playbook.action if old and old.playbook else None
            new_pb = new.playbook.name or new.playbook.action if new.playbook else None
            out.playbook_changed += int(old_pb != new_pb)
            mover = {"lead_id": new.lead_id, "before": before, "after": new.score, "delta": new.score - before}
            item = (abs(new.score - before), new.lead_id, mover)
            if len(heap) < top:
                heapq.heappush(heap, item)
            elif item[:2] > heap[0][:2]:
                heapq.heapreplace(heap, item)
    out.movers = [m for _, _, m in sorted(heap, key=lambda i: (-i[0], i[1])) if m["delta"] != 0]
    return out


def apply(store: LeadStore, evaluator: Evaluator, now: Clock, batch_size: int = 5000) -> Rescored:
    """Rescore every lead under the (already activated) model, one transaction per batch."""
    total = Rescored()
    cause = f"model:{evaluator.version}"
    for ids in all_lead_batches(store, batch_size):
        at = now()

        def work(conn: Connection, ids: list[str] = ids, at: int = at) -> Rescored:
            store.lock_leads(conn, ids)
            return evaluator.rescore(store, conn, ids, at, cause)

        done = store.transact(work)
        total.leads += done.leads
        total.changed += done.changed
        total.firings.extend(done.firings)
    return total
