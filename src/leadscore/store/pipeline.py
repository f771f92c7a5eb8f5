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
from leadscore.engine.timeline import Timeline
from leadscore.lifecycle.triggers import TriggerFiring, detect_triggers
from leadscore.model.spec import ScoringModel, Trigger
from leadscore.store.base import LeadStore
from leadscore.store.codec import result_of
from leadscore.store.events_repo import load_timelines
from leadscore.store.leads_repo import load_leads
from leadscore.store.outbox_repo import enqueue
from leadscore.store.results_repo import load_result_rows, save_results

DAY_US = 86_400_000_000


@dataclass
class Rescored:
    """What one rescore did, for progress reports and `model plan`."""

    leads: int = 0
    changed: int = 0
    firings: list[TriggerFiring] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    previous: dict[str, Result] = field(default_factory=dict)


class Evaluator:
    """A model compiled once and applied to the leads a transaction touched."""

    def __init__(self, model: ScoringModel, *, fire_triggers: bool = True) -> None:
        self.model = model
        self.scorer = Scorer(model)
        self.version = self.scorer.version
        self.fire_triggers = fire_triggers and bool(model.triggers)

    def evaluate(self, lead: Lead, events: Sequence[Event], at_us: int) -> tuple[Result, int | None, Timeline]:
        """The pure scorer's result at `at_us`, and the next time it can change without a new event."""
        timeline = Timeline(events, until=at_us)
        result = self.scorer.score_timeline(lead, timeline, at_us)
        return result, self.next_change(lead, timeline, at_us, events), timeline

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
    ) -> Rescored:
        """Score the leads at `at_us` from their full stored timelines; with `write`, store everything.

        `known` holds whole timelines the caller already has in memory (in log order: time, then
        input order), exactly as they would reload; the others are read from the log. The caller
        holds the leads' locks (`store.lock_leads`) when writing.
        """
        done = Rescored()
        if not lead_ids:
            return done
        leads = load_leads(conn, lead_ids)
        known = known or {}
        timelines = load_timelines(conn, [i for i in leads if i not in known])
        timelines.update({i: known[i] for i in leads if i in known})
        previous = load_result_rows(conn, list(leads))
        items: list[tuple[Result, int | None]] = []
        outbox: list[TriggerFiring] = []
        for lead_id in sorted(leads):
            lead = leads[lead_id]
            events = timelines.get(lead_id, [])
            result, nxt, timeline = self.evaluate(lead, events, at_us)
            items.append((result, nxt))
            prev_row = previous.get(lead_id)
            prev = result_of(prev_row) if prev_row is not None else None
            if self.fire_triggers:
                outbox.extend(self._firings(lead, timeline, prev, result))
            if keep:
                done.results.append(result)
                if prev is not None:
                    done.previous[lead_id] = prev
        done.leads = len(items)
        done.firings = outbox
        if write:
            done.changed = save_results(store, conn, items, previous, cause)
            enqueue(store, conn, outbox, at_us)
        else:
            done.changed = sum(1 for r, _ in items if _differs(previous.get(r.lead_id), r))
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
    return prev is None or prev["score"] != result.score or prev["dimensions"] != result.dimensions
