"""Re-scoring leads inside the caller's transaction: results, history and trigger outbox together.

This is the real-time path: whatever changed a lead (an event, an attribute, time passing, a new
model, a merge) calls `Evaluator.rescore` in the same transaction as the change, so the stored
result never lags behind the data, and a trigger is written to the outbox exactly when the change
that fired it commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from leadscore.domain import Event, Lead, Result
from leadscore.domain.timeutil import to_micros
from leadscore.engine import Scorer
from leadscore.engine.errors import ScoringDataError
from leadscore.engine.lifecycle_replay import ReplayStart
from leadscore.engine.predictors import Predictor
from leadscore.engine.timeline import Timeline
from leadscore.model.spec import ScoringModel, Trigger
from leadscore.store.base import LeadStore
from leadscore.store.codec import result_of
from leadscore.store.events_repo import load_timelines
from leadscore.store.outbox_repo import enqueue
from leadscore.store.parallel import MIN_PARALLEL_LEADS, Outcome, ScoringPool, job
from leadscore.store.results_repo import (
    close,
    load_lead_states,
    result_writes,
    same_dimensions,
    save_results,
    write_results,
)
from leadscore.triggers.firings import TriggerFiring, detect_triggers

DAY_US = 86_400_000_000
DRIVER_WRITES = 16  # up to this many leads' results written on PostgreSQL's driver (`Evaluator.write`)


@dataclass
class Rescored:
    """What one rescore did, for progress reports and `model plan`."""

    leads: int = 0
    changed: int = 0
    firings: list[TriggerFiring] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    previous: dict[str, Result] = field(default_factory=dict)
    # leads left as they were because their stored data cannot be scored (`rescore(skip_bad=True)`)
    failed: list[ScoringDataError] = field(default_factory=list)


@dataclass
class Prepared:
    """Scores computed by `Evaluator.prepare`, not written yet."""

    done: Rescored
    items: list[tuple[Result, int | None]]
    previous: dict[str, dict[str, Any]]  # the stored result rows they were scored against
    active: str | None = None  # the store's active model (fingerprint) when they were read
    seen: dict[str, int] = field(default_factory=dict)  # per lead, the stored events its result is from
    queued: set[str] = field(default_factory=set)  # those queued for rescoring (pending_rescore) when read


@dataclass
class Loaded:
    """What rescoring reads of the leads before scoring them (`Evaluator.prepare`): the leads that exist,
    their stored result rows (with `events_seen`), the active model's fingerprint, those queued for
    rescoring, their timelines (log order) and their events' log positions (`seq`, aligned)."""

    leads: dict[str, Lead]
    previous: dict[str, dict[str, Any]]
    active: str | None
    queued: set[str]
    timelines: dict[str, list[Event]]
    seqs: dict[str, list[int]]
    # per lead, when the reader has it: the engine's timeline of `timelines[lead]` at the time scored,
    # equal to `Timeline(events, until=at_us)` (leadscore.store.timeline_cache keeps and extends them)
    built: Mapping[str, Timeline] = field(default_factory=dict)


@dataclass(frozen=True)
class Resume:
    """A lead's stored result, how many of its stored events it was computed from (`events_seen`),
    and the timeline ids of the events appended since."""

    previous: Result
    seen: int
    new_ids: frozenset[str]


_Job = tuple[Lead, list[Event], Result | None, Resume | None, Timeline | None]


def _appended(events: Sequence[Event], seqs: Sequence[int], seen: int | None) -> frozenset[str] | None:
    """The timeline ids of the events appended to the log after the `seen` a result was computed
    from (a deferred intake's, which its drain rescores): the last ones by log position. Writers of
    a lead's events hold its lock, so its log positions grow in commit order."""
    if seen is None or len(events) <= seen:
        return None
    order = sorted(range(len(events)), key=seqs.__getitem__)
    ids = [events[i].id for i in order[seen:]]
    return frozenset(i for i in ids if i is not None)


def replay_start(
    version: str, timeline: Timeline, events: Sequence[Event], at_us: int, resume: Resume
) -> ReplayStart | None:
    """Where the lifecycle replay of `timeline` can resume from the stored result, or None (replay it all).

    Only when the result is provably the replay of the lead's other events: same model, computed
    from exactly the events stored before the new ones (their count: the log is append-only), at a
    time no earlier than the last of them and no later than now. The replay then resumes after the
    old events strictly earlier than every new one (all of them when the new events are the latest,
    the real-time case; the first few for a late event), if there are any: each step of the replay
    reads the timeline up to its own time, so its steps over those events are the same with the new
    events, and the result equals a full replay (tests/store/test_incremental.py compares them).
    """
    prev = resume.previous
    if prev.model_version != version or prev.stage is None or not prev.stage_history:
        return None
    new_ids = resume.new_ids
    old = [e.ts for e in events if e.id not in new_ids]
    if len(old) != resume.seen or len(old) + len(new_ids) != len(events) or not old:
        return None
    prev_at = to_micros(prev.at)
    if not (max(old) <= prev_at <= at_us):
        return None
    first_new = min(e.ts for e in events if e.id in new_ids)
    before = [t for t in old if t < first_new]
    if not before:
        return None
    index = len(before)
    head = timeline.events[:index]
    # an old event left out of the timeline (a duplicate id), or one the timeline puts elsewhere
    if len(head) != index or any(e.id in new_ids or e.ts >= first_new for e in head):
        return None
    return ReplayStart.after(prev.stage_history, index, max(before))


class Evaluator:
    """A model compiled once and applied to the leads a transaction touched.

    With `workers` > 0, batches of many leads are scored on that many processes (started on first
    need; `close()` stops them). Scorers given trained predictors always score in this process.
    """

    def __init__(
        self,
        model: ScoringModel,
        *,
        fire_triggers: bool = True,
        predictors: Mapping[str, Predictor] | None = None,
        workers: int = 0,
    ) -> None:
        self.model = model
        self.scorer = Scorer(model, predictors)
        self.version = self.scorer.version
        self.fire_triggers = fire_triggers and bool(model.triggers)
        self.workers = workers if not self.scorer.predictors else 0
        self._pool: ScoringPool | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def evaluate(
        self,
        lead: Lead,
        events: Sequence[Event],
        at_us: int,
        resume: Resume | None = None,
        timeline: Timeline | None = None,
    ) -> tuple[Result, int | None, Timeline]:
        """The pure scorer's result at `at_us`, and the next time it can change without a new event.
        `resume`: the stored result the lifecycle replay may resume from (`replay_start`); `timeline`:
        `Timeline(events, until=at_us)`, when the caller has it."""
        if timeline is None:
            timeline = Timeline(events, until=at_us)
        start = replay_start(self.scorer.model_version, timeline, events, at_us, resume) if resume else None
        result = self.scorer.score_timeline(lead, timeline, at_us, start)
        # a timeline that holds every event holds none after `at_us`: no stored future event to look for
        future = events if len(timeline.events) != len(events) else ()
        return result, self.next_change(lead, timeline, at_us, future), timeline

    def score_one(
        self,
        lead: Lead,
        events: Sequence[Event],
        prev: Result | None,
        at_us: int,
        resume: Resume | None = None,
        timeline: Timeline | None = None,
    ) -> Outcome:
        """Result, next change and the triggers it fires against the previous result."""
        result, nxt, timeline = self.evaluate(lead, events, at_us, resume, timeline)
        firings = self._firings(lead, timeline, prev, result) if self.fire_triggers else []
        return result, nxt, firings

    def next_change(self, lead: Lead, timeline: Timeline, at_us: int, events: Sequence[Event]) -> int | None:
        """Earliest of: what the engine says about decay and windows, and the next already-stored future event.

        Engines without `next_change` get a day later: a safe, if busy, bound for daily windows.
        """
        finder = getattr(self.scorer, "next_change", None)
        nxt: int | None = finder(lead, timeline, at_us) if finder is not None else at_us + DAY_US
        future = [e.ts for e in events if e.ts > at_us]
        if future:
            nxt = min(future) if nxt is None else min(nxt, min(future))
        return nxt

    def _score_all(self, jobs: list[_Job], at_us: int) -> list[Outcome]:
        if self.workers > 0 and len(jobs) >= MIN_PARALLEL_LEADS:
            if self._pool is None:
                self._pool = ScoringPool(Evaluator, self.model, self.fire_triggers, self.workers)
            return self._pool.score([job(lead, events, prev) for lead, events, prev, _, _ in jobs], at_us)
        return [self.score_one(lead, events, prev, at_us, resume, tl) for lead, events, prev, resume, tl in jobs]

    def _score_each(self, jobs: list[_Job], at_us: int, failed: list[ScoringDataError]) -> list[Outcome | None]:
        """`_score_all`, but a lead whose data the model cannot take is None (its error in `failed`)
        instead of failing the whole batch: one bad lead must not hold back the others."""
        try:
            return list(self._score_all(jobs, at_us))
        except ScoringDataError:
            pass
        out: list[Outcome | None] = []
        for lead, events, prev, resume, timeline in jobs:  # again one by one, in this process, to find the bad ones
            try:
                out.append(self.score_one(lead, events, prev, at_us, resume, timeline))
            except ScoringDataError as exc:
                failed.append(exc)
                out.append(None)
        return out

    def rescore(
        self,
        store: LeadStore,
        conn: Connection,
        lead_ids: Sequence[str],
        at_us: int,
        cause: str,
        *,
        write: bool = True,
        keep: bool = False,
        known: Mapping[str, list[Event]] | None = None,
        skip_bad: bool = False,
        fresh: Mapping[str, frozenset[str]] | None = None,
    ) -> Rescored:
        """Score the leads at `at_us` from their full stored timelines; with `write`, store everything.

        `known` holds whole timelines the caller already has in memory (in log order: time, then
        input order), exactly as they would reload; the others are read from the log. The caller
        holds the leads' locks (`store.lock_leads`) when writing. With `skip_bad`, a lead whose
        stored data the model cannot take (ScoringDataError) keeps its stored result and is listed
        in `failed`; without it, the error ends the whole rescore.
        """
        done = Rescored()
        if not lead_ids:
            return done
        scored = self.prepare(conn, lead_ids, at_us, keep=keep, known=known, skip_bad=skip_bad, fresh=fresh)
        if write:
            return self.write(store, conn, scored, at_us, cause)
        done = scored.done
        done.changed = sum(1 for r, _ in scored.items if _differs(scored.previous.get(r.lead_id), r))
        return done

    def prepare(
        self,
        conn: Connection,
        lead_ids: Sequence[str],
        at_us: int,
        *,
        keep: bool = False,
        known: Mapping[str, list[Event]] | None = None,
        skip_bad: bool = False,
        fresh: Mapping[str, frozenset[str]] | None = None,
    ) -> Prepared:
        """The scoring half of `rescore`: read the leads, their timelines and stored results, and score,
        writing nothing (so it may run outside the transaction that writes, see store/pending.py).

        `fresh`: per lead, the timeline ids of the events this transaction appended; the lifecycle
        replay of a lead whose stored result was computed from all its other events resumes from it
        (`replay_start`) instead of replaying its whole timeline.
        """
        queued: set[str] = set()
        leads, previous, active = load_lead_states(conn, lead_ids, queued)
        known = known or {}
        seqs: dict[str, list[int]] = {}
        timelines = load_timelines(conn, [i for i in leads if i not in known], seqs)
        timelines.update({i: known[i] for i in leads if i in known})
        state = Loaded(leads, previous, active, queued, timelines, seqs)
        return self.score_loaded(state, at_us, keep=keep, skip_bad=skip_bad, fresh=fresh)

    def score_loaded(
        self,
        state: Loaded,
        at_us: int,
        *,
        keep: bool = False,
        skip_bad: bool = False,
        fresh: Mapping[str, frozenset[str]] | None = None,
    ) -> Prepared:
        """The scoring of `prepare`, on what it read (or what a caller read as it would, in fewer
        round trips: leadscore.store.realtime_pg)."""
        done = Rescored()
        leads, previous, timelines, seqs = state.leads, state.previous, state.timelines, state.seqs
        fresh = fresh or {}
        jobs: list[_Job] = []
        seen: dict[str, int] = {}
        for lead_id in sorted(leads):
            prev_row = previous.get(lead_id)
            events = timelines.get(lead_id, [])
            seen[lead_id] = len(events)
            new_ids = fresh.get(lead_id)
            if new_ids is None and prev_row is not None and lead_id in seqs:
                new_ids = _appended(events, seqs[lead_id], prev_row.get("events_seen"))
            prev: Result | None = None
            resume = None
            if prev_row is not None and (keep or self.fire_triggers or new_ids):
                prev = result_of(prev_row)
                if new_ids and prev_row.get("events_seen") is not None:
                    resume = Resume(prev, int(prev_row["events_seen"]), new_ids)
            timeline = state.built.get(lead_id)
            jobs.append((leads[lead_id], events, prev if (keep or self.fire_triggers) else None, resume, timeline))
        items: list[tuple[Result, int | None]] = []
        outcomes = self._score_each(jobs, at_us, done.failed) if skip_bad else self._score_all(jobs, at_us)
        for (_, _, prev, _, _), outcome in zip(jobs, outcomes, strict=True):
            if outcome is None:
                continue
            result, nxt, firings = outcome
            items.append((result, nxt))
            done.firings.extend(firings)
            if keep:
                done.results.append(result)
                if prev is not None:
                    done.previous[result.lead_id] = prev
        done.leads = len(items)
        return Prepared(done, items, previous, state.active, seen, state.queued)

    def write(self, store: LeadStore, conn: Connection, scored: Prepared, at_us: int, cause: str) -> Rescored:
        """The writing half of `rescore`: results, score and stage history, trigger outbox."""
        done = scored.done
        if store.name == "postgres" and 0 < len(scored.items) <= DRIVER_WRITES:
            # a few leads (a drain of real-time events): on the driver, in pipeline mode, one round trip
            writes = result_writes(scored.items, scored.previous, cause, scored.seen)
            raw: Any = conn.connection.driver_connection
            with raw.pipeline(), raw.cursor() as cur:
                write_results(cur, writes)
            done.changed = len(writes[2])
        else:
            done.changed = save_results(store, conn, scored.items, scored.previous, cause, scored.seen)
        enqueue(store, conn, done.firings, at_us)
        return done

    def _firings(self, lead: Lead, timeline: Timeline, prev: Result | None, result: Result) -> list[TriggerFiring]:
        at_us = to_micros(result.at)

        def before(trigger: Trigger) -> float:
            assert trigger.within is not None
            return self.scorer.scores_at(lead.attributes, timeline, at_us - trigger.within.micros)["total"]

        if prev is not None and prev.model_version != result.model_version and prev.model != result.model:
            prev = None  # another model's labels and stages are not this model's transitions
        return detect_triggers(self.model, prev, result, score_before_window=before)


def _differs(prev: dict[str, Any] | None, result: Result) -> bool:
    """The test `save_results` counts a change with (`results_repo.close`)."""
    if prev is None or not close(prev["score"], result.score):
        return True
    return not same_dimensions(prev["dimensions"], result.dimensions)
