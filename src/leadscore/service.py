"""The facade that the CLI, the REST API and the dashboard use: one object, no business logic at the edges.

`LeadService` holds a store, the active model and a clock. Everything that changes a lead goes
through a method here, which runs the change and its rescoring in one transaction (see
leadscore.store.pipeline), so every interface gets the same real-time guarantees.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from leadscore.domain import Event, Lead, Result, utc_now
from leadscore.domain.timeutil import to_micros
from leadscore.model import ScoringModel, load_model, model_version, parse_model
from leadscore.store import files, maintenance, privacy, queries
from leadscore.store.accounts import accounts as account_rollup
from leadscore.store.base import LeadStore, open_store
from leadscore.store.identity import merge_into
from leadscore.store.ingest import BatchOutcome, ingest_events, ingest_leads
from leadscore.store.migrate import current_revision, head_revision
from leadscore.store.models_repo import StoredModel, activate, active_model, model_history
from leadscore.store.outbox_repo import SqlOutboxRepository
from leadscore.store.pipeline import Evaluator, Rescored
from leadscore.workspace import Workspace

Clock = Callable[[], datetime]
SALES_OUTCOMES = {
    "accepted": "sales_accepted",
    "rejected": "sales_rejected",
    "opportunity": "opportunity_created",
    "won": "deal_won",
    "lost": "deal_lost",
}


class ServiceError(Exception):
    """A request the service cannot carry out as asked (unknown lead, no model, not migrated)."""


@dataclass
class Applied:
    version: str
    previous: str | None
    rescored: Rescored


class LeadService:
    def __init__(
        self,
        store: LeadStore,
        *,
        model_path: str | Path | None = None,
        clock: Clock = utc_now,
        destinations: Callable[[], dict[str, Any]] | None = None,
        batch_size: int = 10_000,
        workers: int = 0,
    ) -> None:
        self.store = store
        self.workers = workers  # scoring processes for large batches (leadscore.store.parallel); 0: none
        self.model_path = Path(model_path) if model_path else None
        self.clock = clock
        self._destinations = destinations or dict
        self.batch_size = batch_size
        self._evaluator: Evaluator | None = None

    @classmethod
    def from_workspace(cls, workspace: Workspace, clock: Clock = utc_now) -> LeadService:
        return cls(
            open_store(workspace.database_url),
            model_path=workspace.model_path,
            clock=clock,
            destinations=workspace.destinations,
            batch_size=workspace.settings.batch_size,
            workers=workspace.settings.workers,
        )

    def close(self) -> None:
        if self._evaluator is not None:
            self._evaluator.close()
        self.store.dispose()

    def now_us(self) -> int:
        return to_micros(self.clock())

    # -- schema and model ---------------------------------------------------------------------------
    def upgrade(self) -> StoredModel | None:
        """Migrate the store to the latest schema; register the workspace model if none is active."""
        self.store.upgrade()
        return self.active_model()

    def _check_schema(self) -> None:
        if current_revision(self.store.engine) != head_revision():
            raise ServiceError("the store is not at the latest schema: run `leadscore db upgrade`")

    def active_model(self) -> StoredModel | None:
        with self.store.read() as conn:
            found = active_model(conn)
        if found is None and self.model_path is not None:
            model = load_model(self.model_path)
            text = self.model_path.read_text(encoding="utf-8")
            with self.store.write() as conn:
                activate(self.store, conn, model, text, self.now_us())
            with self.store.read() as conn:
                found = active_model(conn)
        return found

    @property
    def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            self._check_schema()
            stored = self.active_model()
            if stored is None:
                raise ServiceError("no active model: give a model file or run `leadscore model apply FILE`")
            self._evaluator = self._evaluator_for(stored.load(), self.model_path)
        return self._evaluator

    def _evaluator_for(self, model: ScoringModel, path: str | Path | None, fire_triggers: bool = True) -> Evaluator:
        """Predictive dimensions need their trained artifacts, which lie next to the model file."""
        if not model.predictive_dimensions():
            return Evaluator(model, fire_triggers=fire_triggers, workers=self.workers)
        from leadscore.predictive.runtime import load_predictors

        base = Path(path).parent if path is not None else Path.cwd()
        return Evaluator(model, fire_triggers=fire_triggers, predictors=load_predictors(model, base))

    @property
    def model(self) -> ScoringModel:
        return self.evaluator.model

    def models(self) -> list[StoredModel]:
        with self.store.read() as conn:
            return model_history(conn)

    # -- ingest -------------------------------------------------------------------------------------
    def ingest_events(self, events: Sequence[Event]) -> BatchOutcome:
        """Store events and rescore their leads at once; events already stored change nothing."""
        total = BatchOutcome()
        for start in range(0, len(events), self.batch_size):
            total.add(ingest_events(self.store, self.evaluator, events[start : start + self.batch_size], self.now_us))
        return total

    def ingest_leads(self, leads: Sequence[Lead], source: str = "api") -> BatchOutcome:
        """Upsert attributes (history kept) and rescore the leads whose attributes changed."""
        return ingest_leads(self.store, self.evaluator, leads, self.now_us, source)

    def ingest_events_file(self, path: str | Path, **options: Any) -> files.FileReport:
        options.setdefault("batch_size", self.batch_size)
        return files.ingest_events_file(self.store, self.evaluator, path, self.now_us, **options)

    def ingest_leads_file(self, path: str | Path, **options: Any) -> files.FileReport:
        options.setdefault("batch_size", self.batch_size)
        return files.ingest_leads_file(self.store, self.evaluator, path, self.now_us, **options)

    # -- lifecycle ----------------------------------------------------------------------------------
    def set_stage(self, lead_id: str, stage: str, at: datetime | None = None) -> Result:
        """A manual move, recorded as a `stage_set` event like any other."""
        model = self.model
        stages = model.lifecycle.all_stages() if model.lifecycle else []
        if stage not in stages:
            raise ServiceError(f"stage {stage!r} names no stage of the model ({', '.join(stages) or 'no lifecycle'})")
        return self._record(lead_id, "stage_set", at, stage=stage)

    def record_outcome(self, lead_id: str, outcome: str, at: datetime | None = None, **properties: Any) -> Result:
        """A sales outcome (accepted, rejected, opportunity, won, lost), recorded as an event."""
        if outcome not in SALES_OUTCOMES:
            raise ServiceError(f"unknown outcome {outcome!r} (expected one of {', '.join(SALES_OUTCOMES)})")
        return self._record(lead_id, SALES_OUTCOMES[outcome], at, **properties)

    def _record(self, lead_id: str, type_: str, at: datetime | None, **properties: Any) -> Result:
        when = at or self.clock()
        person = self.person(lead_id)  # a merged or identified id records on the lead that holds it
        self.ingest_events([Event.of(lead_id, type_, when, **properties)])
        found = self.result(person)
        assert found is not None
        return found

    def merge(self, keep: str, other: str) -> Result:
        """Two leads are one person: everything of `other` moves to `keep`, which is rescored."""
        self.require_lead(keep)
        self.require_lead(other)
        if keep == other:
            raise ServiceError(f"cannot merge lead {keep!r} into itself")
        evaluator = self.evaluator

        def work(conn: Any) -> None:
            at = self.now_us()
            self.store.lock_leads(conn, sorted([keep, other]))
            if merge_into(self.store, conn, keep, other, at, f"merge:{other}"):
                evaluator.rescore(self.store, conn, [keep], at, f"merge:{other}")

        self.store.transact(work)
        found = self.result(keep)
        assert found is not None
        return found

    # -- time ---------------------------------------------------------------------------------------
    def refresh(self) -> Rescored:
        """Apply time-driven changes (decay, windows, absence) to the leads that can have changed."""
        return maintenance.refresh(self.store, self.evaluator, self.now_us)

    def watch(self, interval_s: float, on_pass: Callable[[Rescored], None], stop: Callable[[], bool]) -> None:
        """Refresh every `interval_s` seconds until `stop()` says so (for deployments without cron)."""
        while not stop():
            on_pass(self.refresh())
            deadline = time.monotonic() + interval_s
            while time.monotonic() < deadline and not stop():
                time.sleep(min(0.5, interval_s))

    # -- reading ------------------------------------------------------------------------------------
    def require_lead(self, lead_id: str) -> None:
        with self.store.read() as conn:
            if queries.lead_row(conn, lead_id) is None:
                raise ServiceError(f"no lead {lead_id!r}")

    def result(self, lead_id: str) -> Result | None:
        with self.store.read() as conn:
            return queries.result(conn, lead_id)

    def queue(self, limit: int | None = None) -> list[Result]:
        with self.store.read() as conn:
            return queries.queue(conn, limit)

    def explain(self, lead_id: str, last_events: int = 10) -> dict[str, Any]:
        """Why the lead (or the lead a merged / identified id belongs to) has its score."""
        with self.store.read() as conn:
            person = privacy.person(conn, lead_id)
            found = queries.explain(conn, person, last_events) if person is not None else None
        if found is None:
            raise ServiceError(f"no lead {lead_id!r}")
        return found

    def score_history(self, lead_id: str) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return queries.score_history_of(conn, lead_id)

    def accounts(self, account: str | None = None) -> list[dict[str, Any]]:
        scorer = self.evaluator.scorer
        with self.store.read() as conn:
            return account_rollup(conn, scorer, self.now_us(), account)

    # -- model changes ------------------------------------------------------------------------------
    def _candidate(self, path: str | Path) -> tuple[ScoringModel, str]:
        text = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else None
        if text is None:
            raise ServiceError(f"{path}: model file not found")
        return parse_model(text, source=str(path)), text

    def plan_model(self, path: str | Path, top: int = 10) -> maintenance.Plan:
        """What the new model would change on today's data, without writing anything."""
        model, _ = self._candidate(path)
        self._check_schema()
        evaluator = self._evaluator_for(model, path)
        try:
            return maintenance.plan(self.store, evaluator, self.now_us(), top)
        finally:
            evaluator.close()

    def apply_model(self, path: str | Path, quiet: bool = False) -> Applied:
        """Activate the new model (the old one stays in history) and rescore every lead under it."""
        model, text = self._candidate(path)
        previous = self.active_model()
        self._check_schema()
        with self.store.write() as conn:
            activate(self.store, conn, model, text, self.now_us())
        if self._evaluator is not None:
            self._evaluator.close()
        self._evaluator = self._evaluator_for(model, path)
        evaluator = self._evaluator_for(model, path, fire_triggers=not quiet)
        try:
            done = maintenance.apply(self.store, evaluator, self.now_us)
        finally:
            evaluator.close()
        return Applied(model_version(model), previous.version if previous else None, done)

    # -- privacy ------------------------------------------------------------------------------------
    def person(self, lead_id: str) -> str:
        """The lead holding `lead_id`'s data (itself, or the lead a merge or identify folded it into)."""
        with self.store.read() as conn:
            found = privacy.person(conn, lead_id)
        if found is None:
            raise ServiceError(f"no lead {lead_id!r}")
        return found

    def erase(self, lead_id: str) -> dict[str, int]:
        """Remove the person: the lead (or the lead a merged / identified id belongs to), its events,
        aliases, results, history, outbox rows and delivery log; the deleted rows are overwritten
        in SQLite's files at once."""

        def work(conn: Any) -> dict[str, int]:
            found = privacy.person(conn, lead_id)
            if found is None:
                raise ServiceError(f"no lead {lead_id!r}")
            return privacy.erase(self.store, conn, found)

        counts = self.store.transact(work)
        self.store.scrub()
        return counts

    def export(self, lead_id: str) -> dict[str, Any]:
        """Everything held about the person `lead_id` is (or was merged into), as JSON-ready data."""
        with self.store.read() as conn:
            kept = privacy.person(conn, lead_id)
            found = privacy.export(conn, kept) if kept is not None else None
        if found is None:
            raise ServiceError(f"no lead {lead_id!r}")
        return found

    # -- triggers -----------------------------------------------------------------------------------
    def outbox(self) -> SqlOutboxRepository:
        return SqlOutboxRepository(self.store)

    def deliver_webhooks(self, limit: int = 100, client: Any = None) -> Any:
        """One delivery attempt for each due outbox message (signed, retried with backoff, dead-lettered)."""
        import httpx

        from leadscore.webhooks import WebhookDispatcher

        own = client is None
        http = client or httpx.Client()
        try:
            dispatcher = WebhookDispatcher(self._destinations(), self.outbox(), http, clock=self.clock)
            return dispatcher.deliver_due(self.clock(), limit=limit)
        finally:
            if own:
                http.close()

    def redeliver(self, ids: Sequence[str] | None = None, destination: str | None = None) -> int:
        """Put dead-lettered messages back in the queue, with a fresh attempt budget.

        Every id named must be a stored message: an unknown one is an error, nothing is requeued."""
        if ids:
            known = {m["id"] for m in self.outbox().find(ids)}
            unknown = [i for i in dict.fromkeys(ids) if i not in known]
            if unknown:
                raise ServiceError(f"no trigger message {', '.join(repr(i) for i in unknown)}")
        return self.outbox().requeue_dead(self.clock(), ids=ids, destination=destination)
