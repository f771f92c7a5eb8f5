"""The facade that the CLI, the REST API and the dashboard use: one object, no business logic at the edges.

`LeadService` holds a store, the active model and a clock. Everything that changes a lead goes
through a method here, which runs the change and its rescoring in one transaction (see
leadscore.store.pipeline), so every interface gets the same real-time guarantees.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from leadscore.app import maintenance, readers
from leadscore.app.active_model import ActiveModel
from leadscore.app.errors import Conflict, InvalidInput, NoActiveModel, NotFound, NotMigrated, ServiceError
from leadscore.app.keys import ApiKeys
from leadscore.app.lead_list import LeadFilter, LeadPage, Sort, list_leads
from leadscore.app.results import Account, Explanation, Export, History, LeadView, ScoredLead, ScorePoint
from leadscore.app.triggers import Triggers
from leadscore.app.workspace import Workspace
from leadscore.domain import Event, Lead, Result, utc_now
from leadscore.domain.numbers import MAX_MAGNITUDE, bad_numbers
from leadscore.domain.timeutil import to_micros
from leadscore.model import ScoringModel, model_version, parse_model
from leadscore.model.loader import read_model_text
from leadscore.store import files, pending, privacy, queries
from leadscore.store.base import LeadStore, open_store
from leadscore.store.event_columns import EventColumns
from leadscore.store.identity import merge_into
from leadscore.store.ingest import BatchOutcome, ModelChanged, ingest_events, ingest_leads
from leadscore.store.models_repo import activation
from leadscore.store.pipeline import Evaluator, Rescored

Clock = Callable[[], datetime]
SALES_OUTCOMES = {
    "accepted": "sales_accepted",
    "rejected": "sales_rejected",
    "opportunity": "opportunity_created",
    "won": "deal_won",
    "lost": "deal_lost",
}


__all__ = [
    "Applied",
    "Conflict",
    "InvalidInput",
    "LeadService",
    "NoActiveModel",
    "NotFound",
    "NotMigrated",
    "ServiceError",
]

log = logging.getLogger(__name__)


def _refuse_bad_numbers(what: str, values: Mapping[str, Any]) -> None:
    """The files' rule (`io.convert`) for items handed over directly: nothing is stored when a value
    is NaN, infinite or beyond +-2**53 (`domain.numbers`)."""
    found = _bad_number(values)
    if found is not None:
        raise InvalidInput(f"{what}: {found[0]}: {found[1]}", field=found[0])


_NO_NUMBER = frozenset({str, bool, type(None)})


def _bad_number(values: Mapping[str, Any]) -> tuple[str, str] | None:
    """(path, problem) of the first refused number in `values`, or None."""
    for name, value in values.items():
        kind = type(value)
        # the usual values settled without starting the generator: most of its cost on a bulk request
        if kind in _NO_NUMBER or (kind is int and -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE):
            continue
        for found in bad_numbers(value, name):
            return found
    return None


@dataclass
class Applied:
    version: str
    previous: str | None
    rescored: Rescored


class LeadService(ActiveModel, ApiKeys, Triggers):
    """One store, the active model, a clock. Safe to share between threads (an API server's requests):
    the evaluator is built and swapped under a lock, and every change runs in its own transaction."""

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
        self._lock = threading.RLock()
        # Evaluators replaced by `apply_model`: requests in flight may still hold them, so they are
        # closed with the service, not at the swap.
        self._retired: list[Evaluator] = []

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
        self.close_evaluators()
        self.store.dispose()

    def now(self, at: datetime | None = None) -> datetime:
        return at if at is not None else self.clock()

    def now_us(self, at: datetime | None = None) -> int:
        return to_micros(self.now(at))

    def _micros_clock(self, at: datetime | None) -> Callable[[], int]:
        if at is None:
            return self.now_us
        fixed = to_micros(at)
        return lambda: fixed

    # -- ingest -------------------------------------------------------------------------------------
    def ingest_events(
        self,
        events: Sequence[Event],
        at: datetime | None = None,
        *,
        defer: bool = False,
        new_keys: bool = False,
        results: bool = False,
    ) -> BatchOutcome:
        """Store events and rescore their leads at once; events already stored change nothing.

        With `defer`, the events are stored (durably) and their leads queued for rescoring, which
        `drain_pending` (the API's rescoring worker) does later: `lead()` says `current: false` meanwhile.
        With `new_keys`, the outcome lists the identities (event key, lead id) of the events inserted.
        With `results` (not with `defer`), the outcome holds the results of the events' leads (by lead
        id, aliases resolved) as committed: what `result()` then reads, without its round trip.
        """
        # plain events as columns (a bulk request's usual body) hold no number to refuse (`EventColumns.plain`)
        for i, event in enumerate(() if isinstance(events, EventColumns) else events):
            found = _bad_number(event.properties)  # the item named only when refused: naming costs more than checking
            if found is not None:
                path, problem = found
                what = f"event {i} (lead {event.lead_id!r}, type {event.type!r})"
                raise InvalidInput(f"{what}: {path}: {problem}", field=path)
        # The active model is checked inside each transaction that scores (a deferred one scores nothing),
        # not read in a transaction of its own first: one round trip less per real-time event.
        now = self._micros_clock(at)
        total = BatchOutcome()
        for start in range(0, len(events), self.batch_size):
            part = events[start : start + self.batch_size]
            for attempt in range(3):
                evaluator = self.evaluator if attempt == 0 else self.current_evaluator()
                try:
                    done = ingest_events(
                        self.store,
                        evaluator,
                        part,
                        now,
                        defer=defer,
                        new_keys=new_keys,
                        check_model=not defer,
                        results=results,
                    )
                except ModelChanged:
                    if attempt == 2:  # models applied one after another meanwhile: nothing was stored
                        message = "the active model kept changing while the events were scored; send them again"
                        raise Conflict(message) from None
                    continue
                total.add(done)
                break
        return total

    def drain_pending(
        self, limit: int = pending.DRAIN_LEADS, at: datetime | None = None, which: pending.Which = "all"
    ) -> pending.Drained:
        """Rescore up to `limit` leads queued by deferred ingests (`which`: the real-time ones, the
        longest-waiting, or the real-time ones first, leadscore.store.pending), in one transaction;
        `taken` is 0 when nothing was queued."""
        # the drain checks the active model in its write transaction: no read of its own for that here
        done = pending.drain(self.store, self.evaluator, self._micros_clock(at), limit, which)
        if done.model_changed:
            done = pending.drain(self.store, self.current_evaluator(), self._micros_clock(at), limit, which)
        return done

    def backlog(self) -> pending.Backlog:
        """How many leads wait for rescoring, and since when the oldest does."""
        with self.store.read() as conn:
            return pending.backlog(conn)

    def ingest_leads(self, leads: Sequence[Lead], source: str = "api", at: datetime | None = None) -> BatchOutcome:
        """Upsert attributes (history kept) and rescore the leads whose attributes changed."""
        for lead in leads:
            _refuse_bad_numbers(f"lead {lead.id!r}", lead.attributes)
        return ingest_leads(self.store, self.current_evaluator(), leads, self._micros_clock(at), source)

    def ingest_events_file(self, path: str | Path, at: datetime | None = None, **options: Any) -> files.FileReport:
        options.setdefault("batch_size", self.batch_size)
        evaluator = self.current_evaluator()
        if "bulk" not in options:  # a big file's leads rescored once, in bulk, when the model allows it
            from leadscore.bulk.queued import rescore_queued, writable

            if writable(evaluator):
                options["bulk"] = partial(rescore_queued, self.store, evaluator)
        return files.ingest_events_file(self.store, evaluator, path, self._micros_clock(at), **options)

    def ingest_leads_file(self, path: str | Path, at: datetime | None = None, **options: Any) -> files.FileReport:
        options.setdefault("batch_size", self.batch_size)
        evaluator = self.current_evaluator()
        return files.ingest_leads_file(self.store, evaluator, path, self._micros_clock(at), **options)

    # -- lifecycle ----------------------------------------------------------------------------------
    def set_stage(self, lead_id: str, stage: str, at: datetime | None = None) -> Result:
        """A manual move, recorded as a `stage_set` event like any other."""
        model = self.model
        stages = model.lifecycle.all_stages() if model.lifecycle else []
        if stage not in stages:
            raise InvalidInput(
                f"stage {stage!r} names no stage of the model ({', '.join(stages) or 'no lifecycle'})", field="stage"
            )
        return self._record(lead_id, "stage_set", at, stage=stage)

    def record_outcome(self, lead_id: str, outcome: str, at: datetime | None = None, **properties: Any) -> Result:
        """A sales outcome (accepted, rejected, opportunity, won, lost), recorded as an event."""
        if outcome not in SALES_OUTCOMES:
            raise InvalidInput(
                f"unknown outcome {outcome!r} (expected one of {', '.join(SALES_OUTCOMES)})", field="outcome"
            )
        return self._record(lead_id, SALES_OUTCOMES[outcome], at, **properties)

    def _record(self, lead_id: str, type_: str, at: datetime | None, **properties: Any) -> Result:
        when = self.now(at)
        person = self.person(lead_id)  # a merged or identified id records on the lead that holds it
        self.ingest_events([Event.of(lead_id, type_, when, **properties)], at=at)
        found = self.result(person)
        assert found is not None
        return found

    def merge(self, keep: str, other: str, at: datetime | None = None) -> Result:
        """Two leads are one person: everything of `other` moves to `keep`, which is rescored."""
        if keep == other:
            raise Conflict(f"cannot merge lead {keep!r} into itself", field="other")
        self.require_lead(keep)
        self.require_lead(other)
        evaluator, now = self.evaluator, self._micros_clock(at)

        def work(conn: Any) -> None:
            when = now()
            self.store.lock_leads(conn, sorted([keep, other]))
            if merge_into(self.store, conn, keep, other, when, f"merge:{other}"):
                evaluator.rescore(self.store, conn, [keep], when, f"merge:{other}")

        self.store.transact(work)
        log.info("merged lead %s into %s", other, keep)
        found = self.result(keep)
        assert found is not None
        return found

    # -- time ---------------------------------------------------------------------------------------
    def refresh(self, at: datetime | None = None) -> Rescored:
        """Apply time-driven changes (decay, windows, absence) to the leads that can have changed."""
        return maintenance.refresh(self.store, self.evaluator, self._micros_clock(at))

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
                raise NotFound(f"no lead {lead_id!r}", field="lead_id")

    def result(self, lead_id: str) -> Result | None:
        return queries.stored_result(self.store, lead_id)

    def queue(self, limit: int | None = None) -> list[ScoredLead]:
        """Results in sales-queue order (playbook priority, score, lead id)."""
        with self.store.read() as conn:
            return [ScoredLead.of(r) for r in queries.queue(conn, limit)]

    def lead(self, lead_id: str, at: datetime | None = None) -> LeadView:
        """The lead's attributes and stored result, and whether that result is current at `at`.

        `current` is false while events stored by a deferred ingest wait for rescoring (`pending`), and
        once the result's next time-driven change (decay, windows) is due and `refresh` has not run since.
        """
        with self.store.read() as conn:
            row = queries.lead_row(conn, lead_id)
            found = readers.result_row(conn, lead_id) if row is not None else None
            waiting = row is not None and pending.is_pending(conn, lead_id)
        if row is None:
            raise NotFound(f"no lead {lead_id!r}", field="lead_id")
        return readers.lead_view(row, found, self.now_us(at), waiting)

    def list_leads(
        self, filters: LeadFilter | None = None, sort: Sort = "score_desc", limit: int = 50, cursor: str | None = None
    ) -> LeadPage:
        with self.store.read() as conn:
            return list_leads(conn, filters or LeadFilter(), sort, limit, cursor)

    def explain(self, lead_id: str, last_events: int = 10) -> Explanation:
        """Why the lead (or the lead a merged / identified id belongs to) has its score."""
        with self.store.read() as conn:
            person = privacy.person(conn, lead_id)
            found = readers.explanation(conn, person, last_events) if person is not None else None
        if found is None:
            raise NotFound(f"no lead {lead_id!r}", field="lead_id")
        return found

    def score_history(self, lead_id: str) -> list[ScorePoint]:
        return self.history(lead_id).score_history

    def history(self, lead_id: str) -> History:
        self.require_lead(lead_id)
        with self.store.read() as conn:
            return readers.history(conn, lead_id)

    def accounts(self, account: str | None = None, at: datetime | None = None) -> list[Account]:
        scorer = self.evaluator.scorer
        with self.store.read() as conn:
            return readers.accounts(conn, scorer, self.now_us(at), account)

    # -- model changes ------------------------------------------------------------------------------
    def _candidate(self, path: str | Path) -> tuple[ScoringModel, str]:
        if not Path(path).is_file():
            raise NotFound(f"{path}: model file not found", field="file")
        text = read_model_text(path)
        return parse_model(text, source=str(path)), text

    def plan_model(self, path: str | Path, top: int = 10, at: datetime | None = None) -> maintenance.Plan:
        """What the new model would change on today's data, without writing anything."""
        model, _ = self._candidate(path)
        return self.plan_parsed(model, path, top, at)

    def plan_parsed(
        self, model: ScoringModel, path: str | Path | None, top: int = 10, at: datetime | None = None
    ) -> maintenance.Plan:
        self.check_schema()
        evaluator = self._evaluator_for(model, path)
        try:
            return maintenance.plan(self.store, evaluator, self.now_us(at), top)
        finally:
            evaluator.close()

    def apply_model(self, path: str | Path, quiet: bool = False, at: datetime | None = None) -> Applied:
        """Activate the new model (the old one stays in history) and rescore every lead under it, as
        one transaction: if rescoring fails, the old model stays active and no result changed."""
        model, text = self._candidate(path)
        return self.apply_parsed(model, text, path, quiet, at)

    def apply_parsed(
        self, model: ScoringModel, text: str, path: str | Path | None, quiet: bool = False, at: datetime | None = None
    ) -> Applied:
        """Activate a parsed model; the evaluator swap is atomic for requests running beside it."""
        previous = self.active_model()
        self.check_schema()
        clock = self._micros_clock(at)
        evaluator = self._evaluator_for(model, path, fire_triggers=not quiet)
        try:
            statements = activation(self.store, model, text, clock())
            done = maintenance.apply(self.store, evaluator, clock, activation=statements)
        finally:
            evaluator.close()
        # requests running beside the apply finish on the evaluator they took; new ones get the new one
        with self._lock:
            if self._evaluator is not None:
                self._retired.append(self._evaluator)
            self._evaluator = self._evaluator_for(model, path)
        version = model_version(model)
        log.info("model %s@%s active; %d leads rescored", model.name, version, done.leads)
        return Applied(version, previous.version if previous else None, done)

    # -- privacy ------------------------------------------------------------------------------------
    def person(self, lead_id: str) -> str:
        """The lead holding `lead_id`'s data (itself, or the lead a merge or identify folded it into)."""
        with self.store.read() as conn:
            found = privacy.person(conn, lead_id)
        if found is None:
            raise NotFound(f"no lead {lead_id!r}", field="lead_id")
        return found

    def erase(self, lead_id: str) -> dict[str, int]:
        """Remove the person: the lead (or the lead a merged / identified id belongs to), its events,
        aliases, results, history, outbox rows and delivery log; the deleted rows are overwritten
        in SQLite's files at once."""

        def work(conn: Any) -> dict[str, int]:
            found = privacy.person(conn, lead_id)
            if found is None:
                raise NotFound(f"no lead {lead_id!r}", field="lead_id")
            return privacy.erase(self.store, conn, found)

        counts = self.store.transact(work)
        self.store.scrub()
        log.info("erased lead %s", lead_id)
        return counts

    def export(self, lead_id: str) -> Export:
        """Everything held about the person `lead_id` is (or was merged into)."""
        with self.store.read() as conn:
            kept = privacy.person(conn, lead_id)
            found = privacy.export(conn, kept) if kept is not None else None
        if found is None:
            raise NotFound(f"no lead {lead_id!r}", field="lead_id")
        return readers.export(found)
