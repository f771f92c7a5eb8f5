"""Work over many leads: time-driven refresh, model plan (dry run) and model apply.

Both walk the leads in id order, in batches, so memory stays bounded. A refresh commits each batch,
so an interrupted run can simply be started again (it leaves the rest of the leads due: past their
`next_change_at`).

`model apply` is the exception: its rescoring and the activation of the new model are one
transaction (batches and all), so that the store never holds a new active model over old results.

When the model allows it (no predictive dimension), apply and large refreshes take a bulk path
instead: on PostgreSQL the scoring query inside the database (`leadscore.bulk.in_database`, for models
without lifecycle and triggers to fire), else the store exported into DuckDB (`leadscore.bulk.rescore`,
written back by `leadscore.bulk.writeback`;
with a lifecycle or triggers, the stage history and outbox come from `bulk.lifecycle_split` and
`bulk.lifecycle_history`, and the leads those cannot do exactly from the pure scorer, in the same
transaction); all write everything in one transaction and store exactly what the pure path would.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.store.base import LeadStore
from leadscore.store.ingest import Clock
from leadscore.store.pipeline import Evaluator, Rescored
from leadscore.store.tables import leads, results

# Below this many due leads a refresh stays on the pure path: exporting the store costs more.
BULK_REFRESH_MIN = 20_000


def _due_query(at: int, version: str, after: str = "") -> sa.Subquery:
    stale = (
        sa.select(results.c.lead_id.label("id"))
        .where(results.c.lead_id > after)
        .where(sa.or_(results.c.next_change_at <= at, results.c.model_version != version))
    )
    unscored = (
        sa.select(leads.c.id).where(leads.c.id > after).where(~sa.exists().where(results.c.lead_id == leads.c.id))
    )
    return sa.union(stale, unscored).subquery()


def _due(conn: Connection, at: int, version: str, after: str, limit: int) -> list[str]:
    """Leads past their next change, under another model version, or never scored; in id order."""
    union = _due_query(at, version, after)
    return list(conn.execute(sa.select(union.c.id).order_by(union.c.id).limit(limit)).scalars())


def _bulk(
    store: LeadStore,
    evaluator: Evaluator,
    now: Clock,
    cause: str,
    due: str | None = None,
    activation: Sequence[sa.Executable] = (),
) -> Rescored | None:
    """The whole rescore in bulk at `now()` (`due`: SQL giving the ids of refresh's due leads), or None
    when the model or the data needs the pure path (nothing was written then, `activation` included).
    The leads other writers touched while it ran are rescored after it, by the pure scorer
    (`bulk.settle`): the bulk write cannot include what landed after it read the store."""
    from leadscore.bulk.in_database import rescore_in_database
    from leadscore.bulk.rescore import writable
    from leadscore.bulk.settle import late_statements, marks, settle
    from leadscore.bulk.writeback import rescore_store

    if not writable(evaluator):
        return None
    seen = marks(store)
    at = now()
    statements = [*late_statements(store, seen, at, cause), *activation]
    done = None
    if store.in_database_rescore:
        done = rescore_in_database(store, evaluator, at, cause, due_only=due is not None, activation=statements)
    if done is None:
        done = rescore_store(store, evaluator, at, cause, ids=due, activation=statements)
    if done is not None:
        late = settle(store, evaluator, now, at, cause)
        done.changed += late.changed
        done.firings.extend(late.firings)
    return done


def due_sql(store: LeadStore, at: int, version: str) -> str:
    """The ids of the leads due at `at` (see `_due`), as one SQL query in the store's dialect."""
    union = _due_query(at, version)
    dialect = store.engine.dialect
    return str(sa.select(union.c.id).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _bulk_refresh(store: LeadStore, evaluator: Evaluator, now: Clock, bulk_min: int) -> Rescored | None:
    from leadscore.bulk.rescore import writable

    if not writable(evaluator):
        return None
    at = now()
    with store.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(_due_query(at, evaluator.version))).scalar_one()
    if count < bulk_min or count == 0:
        return None
    return _bulk(store, evaluator, now, "refresh", due_sql(store, at, evaluator.version))


def refresh(
    store: LeadStore,
    evaluator: Evaluator,
    now: Clock,
    batch_size: int = 5000,
    *,
    bulk_min: int | None = BULK_REFRESH_MIN,
) -> Rescored:
    """Re-evaluate only the leads whose stored result can have changed since it was computed.

    With at least `bulk_min` due leads (None: never) the bulk path goes first; the batches then take
    whatever is still due (leads it left to the pure scorer, or that came due while it ran)."""
    bulk = _bulk_refresh(store, evaluator, now, bulk_min) if bulk_min is not None else None
    total = Rescored() if bulk is None else bulk
    after = ""
    while True:
        at = now()
        with store.read() as conn:
            ids = _due(conn, at, evaluator.version, after, batch_size)
        if not ids:
            return total

        def work(conn: Connection, ids: list[str] = ids, at: int = at) -> Rescored:
            store.lock_leads(conn, ids)
            # a lead whose stored data the model cannot take stays as it was and is reported;
            # the others of its batch are refreshed (it stays due: every refresh reports it again)
            return evaluator.rescore(store, conn, ids, at, "refresh", skip_bad=True)

        done = store.transact(work)
        total.leads += done.leads
        total.changed += done.changed
        total.firings.extend(done.firings)
        total.failed.extend(done.failed)
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
    # --- batch engine hook (leadscore.bulk.rescore): whole-store scoring in DuckDB when the model allows
    from leadscore.bulk.rescore import score_store

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


def apply(
    store: LeadStore,
    evaluator: Evaluator,
    now: Clock,
    batch_size: int = 5000,
    *,
    bulk: bool = True,
    activation: Sequence[sa.Executable] = (),
) -> Rescored:
    """Rescore every lead under the model, and run `activation` (the statements that make it the
    active model, `models_repo.activation`) in the same transaction: the new model is active exactly
    when every lead carries its result, and a failure anywhere leaves the old model active and every
    result as it was. In bulk when the model allows it (and `bulk`), else through the pure scorer,
    batch by batch but in that one transaction."""
    from leadscore.bulk.settle import late_statements, marks, settle

    cause = f"model:{evaluator.version}"
    done = _bulk(store, evaluator, now, cause, activation=activation) if bulk else None
    if done is not None:
        return done
    # the walk below never goes back: a lead another writer creates (or touches) behind it, scored
    # under the model still active, is queued at the end and rescored after the commit, as the bulk
    # paths do (on SQLite the walk holds the write lock from its first statement: nothing lands)
    seen = marks(store)

    def work(conn: Connection) -> tuple[Rescored, int]:
        for stmt in activation:
            conn.execute(stmt)
        total = Rescored()
        after = ""
        while True:
            query = sa.select(leads.c.id).where(leads.c.id > after).order_by(leads.c.id).limit(batch_size)
            ids = list(conn.execute(query).scalars())
            if not ids:
                break
            store.lock_leads(conn, ids)
            part = evaluator.rescore(store, conn, ids, now(), cause)
            total.leads += part.leads
            total.changed += part.changed
            total.firings.extend(part.firings)
            after = ids[-1]
        at = now()  # after every result the walk wrote: a later one is another writer's
        for stmt in late_statements(store, seen, at, cause):
            conn.execute(stmt)
        return total, at

    total, at = store.transact(work)
    late = settle(store, evaluator, now, at, cause)
    total.changed += late.changed
    total.firings.extend(late.firings)
    return total
