"""Scoring a large batch's leads on several processes, for bulk ingest, refresh and model apply.

The pure scorer is CPU-bound Python, so threads would not help; worker processes each compile
the model once and score whole leads. Results come back to the writing process, which stores them
in the same transaction as before: only where the arithmetic runs changes, not what is written or
when it commits. Events travel as plain tuples (pickling a tuple is about ten times cheaper than
pickling an Event), and the workers rebuild exactly the Events a reload from the store gives.

The pool knows nothing of what scores a lead: it is handed a picklable factory (the `Evaluator`
class of `leadscore.store.pipeline`, which uses this module), so the two modules form no cycle.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from multiprocessing import get_context
from typing import Any, Protocol

from leadscore.domain import Event, Lead, Result
from leadscore.domain.timeutil import from_micros
from leadscore.model.spec import ScoringModel
from leadscore.triggers.firings import TriggerFiring

# Below this many leads a batch is scored in the writing process: shipping it costs more than it saves.
MIN_PARALLEL_LEADS = 200

Job = tuple[str, dict[str, Any], list[tuple[str | None, str, int, dict[str, Any]]], Result | None]
Outcome = tuple[Result, int | None, list[TriggerFiring]]


class LeadScorer(Protocol):
    """What a worker scores with: one lead's result, next change and trigger firings."""

    def score_one(self, lead: Lead, events: Sequence[Event], prev: Result | None, at_us: int) -> Outcome: ...


class ScorerFactory(Protocol):
    """Builds a worker's scorer from the model (picklable: a class or a module-level function)."""

    def __call__(self, model: ScoringModel, *, fire_triggers: bool) -> LeadScorer: ...


_worker: LeadScorer | None = None


def default_workers() -> int:
    """One worker per CPU the process may use, at most four; none on a single CPU."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return 0 if cpus < 2 else min(cpus, 4)


def job(lead: Lead, events: Sequence[Event], previous: Result | None) -> Job:
    return lead.id, dict(lead.attributes), [(e.id, e.type, e.ts, dict(e.properties)) for e in events], previous


def _start(factory: ScorerFactory, model: ScoringModel, fire_triggers: bool) -> None:
    global _worker
    _worker = factory(model, fire_triggers=fire_triggers)


def _score(jobs: list[Job], at_us: int) -> list[Outcome]:
    assert _worker is not None, "worker not started"
    out: list[Outcome] = []
    for lead_id, attributes, rows, previous in jobs:
        events = [Event(lead_id, type_, from_micros(ts), props, key) for key, type_, ts, props in rows]
        out.append(_worker.score_one(Lead(lead_id, attributes), events, previous, at_us))
    return out


class ScoringPool:
    """Worker processes holding one compiled model (each built by `factory`); `score` keeps the order
    of the jobs."""

    def __init__(self, factory: ScorerFactory, model: ScoringModel, fire_triggers: bool, workers: int) -> None:
        self.workers = workers
        self._executor = ProcessPoolExecutor(
            workers, mp_context=get_context("spawn"), initializer=_start, initargs=(factory, model, fire_triggers)
        )

    def score(self, jobs: list[Job], at_us: int) -> list[Outcome]:
        size = max(1, math.ceil(len(jobs) / (self.workers * 4)))
        parts = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        return [o for part in self._executor.map(_score, parts, repeat(at_us)) for o in part]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
