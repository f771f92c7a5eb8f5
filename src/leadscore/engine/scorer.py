"""The pure scorer: score(model, lead, events, at) -> Result (ARCHITECTURE.md decision 1).

Nothing here reads a clock or does IO: the evaluation time is always given. Every other engine
(incremental, SQL, Spark) is an optimisation of this function and is tested against it.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.result import BreakdownEntry, PlaybookMatch, Result, StageChange
from leadscore.domain.timeutil import from_micros, parse_timestamp, to_micros
from leadscore.engine.compile import Check, Context, compile_condition
from leadscore.engine.horizon import DAY_US, collect, next_change
from leadscore.engine.lifecycle_replay import CompiledLifecycle, ReplayStart
from leadscore.engine.predictors import Prediction, Predictor
from leadscore.engine.rules import CompiledRule, compile_rule
from leadscore.engine.spans import SpanModel
from leadscore.engine.timeline import Timeline
from leadscore.model.fingerprint import model_version
from leadscore.model.spec import ScoringModel

TOTAL = "total"


def _always(_: Context) -> bool:
    return True


class Scorer:
    """A model compiled once, to score many leads. Stateless between calls; safe to share."""

    def __init__(self, model: ScoringModel, predictors: Mapping[str, Predictor] | None = None) -> None:
        self.model = model
        self.predictors = dict(predictors or {})
        self.predictive = model.predictive_dimensions()
        missing = sorted(set(self.predictive) - set(self.predictors))
        if missing:
            raise ValueError(
                f"model {model.name!r} has predictive dimension(s) {', '.join(missing)}: load their artifacts "
                "(leadscore.predictive.runtime.load_predictors) and pass them to the scorer"
            )
        version = self.model_version = model_version(model)  # as the store's model history names it
        if self.predictive:
            # a trained artifact is part of what the score means: a new artifact is a new version
            parts = [version, *(f"{d}={self.predictors[d].version}" for d in sorted(self.predictive))]
            version = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
        self.version = version
        self.dimensions = model.dimension_names()
        self.rules: list[CompiledRule] = [compile_rule(r, model.dimension_of(r)) for r in model.rules]
        self.labels: list[tuple[str, list[tuple[str, Check]]]] = [
            (name, [(b.label, compile_condition(b.when) if b.when else _always) for b in bands])
            for name, bands in model.labels.items()
        ]
        # span bounds let the replay skip the events where no transition can fire; a trained
        # dimension has no bounds (SpanModel.trained), but the conditions that do not read it (an
        # engagement threshold beside the total's) still skip spans without asking its model
        spans = SpanModel(model) if model.lifecycle else None
        self.lifecycle = CompiledLifecycle(model.lifecycle, spans) if model.lifecycle else None
        self.playbooks: list[Check] = [compile_condition(p.when) if p.when else _always for p in model.playbooks]
        self._windows, self._decaying = collect(model)
        self._limits = [(d, model.dimension_spec(d).cap, model.dimension_spec(d).floor) for d in self.dimensions]

    # -- pieces, usable on their own by the other engines and the store -------------------------
    def _contributions(
        self, attributes: Mapping[str, Any], timeline: Timeline, at: int, factors: bool = False
    ) -> tuple[list[tuple[str, str, float, int | None]], list[tuple[str, str, float]], dict[str, float]]:
        """Non-zero rule contributions in model order (then predictive dimensions), the floor / cap
        adjustments per dimension, and each dimension's value. Plain tuples: the lifecycle replay
        calls this at every event's time and needs only the sums. `factors`: ask the trained models
        for the result's factors too (the result asks for them next, and the predictor answers that
        second question from its last answer instead of evaluating the model again)."""
        ctx = Context(at, attributes, timeline)
        rows: list[tuple[str, str, float, int | None]] = []
        per: dict[str, list[float]] = {d: [] for d in self.dimensions}
        for rule in self.rules:
            points, count = rule.evaluate(ctx)
            if points != 0.0:
                rows.append((rule.id, rule.dimension, points, count))
                per[rule.dimension].append(points)
        for dim, pspec in self.predictive.items():
            # the probability alone (top 0) at past times; with the factors at the result's time
            top = pspec.factors if factors else 0
            points = self.predictors[dim].predict_one(attributes, timeline, at, top).probability * pspec.scale
            if points != 0.0:
                rows.append((f"predictive:{dim}", dim, points, None))
                per[dim].append(points)
        adjustments: list[tuple[str, str, float]] = []
        values: dict[str, float] = {}
        for dim, cap, floor in self._limits:
            raw = math.fsum(per[dim])
            # A clamped dimension is the bound itself (MODEL-FORMAT.md): adding the adjustment to the
            # rules' points instead would leave the rounding error of `raw` in it (a cap of 40 giving
            # 39.99999999999999, a floor of 0 giving 1e-16), and labels compare that exact value.
            if cap is not None and raw > cap:
                adjustments.append((f"cap:{dim}", dim, cap - raw))
                raw = float(cap)
            elif floor is not None and raw < floor:
                adjustments.append((f"floor:{dim}", dim, floor - raw))
                raw = float(floor)
            values[dim] = raw + 0.0  # a bound written -0.0 is 0, as the sum of nothing is
        return rows, adjustments, values

    def breakdown(self, attributes: Mapping[str, Any], timeline: Timeline, at: int) -> list[BreakdownEntry]:
        """Rule contributions in model order, then per-dimension floor / cap adjustments."""
        rows, adjustments, _ = self._contributions(attributes, timeline, at)
        return [BreakdownEntry(*r) for r in rows] + [BreakdownEntry(*a) for a in adjustments]

    def predict(self, dim: str, attributes: Mapping[str, Any], timeline: Timeline, at: int) -> Prediction:
        spec = self.predictive[dim]
        return self.predictors[dim].predict_one(attributes, timeline, at, spec.factors)

    @staticmethod
    def _with_total(values: dict[str, float]) -> dict[str, float]:
        """The dimensions and `total`, their exactly rounded sum (the breakdown's entries add up to it
        within rounding: a clamped dimension is its bound, not the sum of its entries)."""
        return {**values, TOTAL: math.fsum(values.values())}

    def scored(
        self, attributes: Mapping[str, Any], timeline: Timeline, at: int
    ) -> tuple[list[BreakdownEntry], dict[str, float]]:
        """The breakdown and the scores (dimensions and `total`) at `at`, from one evaluation."""
        rows, adjustments, values = self._contributions(attributes, timeline, at, factors=True)
        entries = [BreakdownEntry(*r) for r in rows] + [BreakdownEntry(*a) for a in adjustments]
        return entries, self._with_total(values)

    def scores_at(self, attributes: Mapping[str, Any], timeline: Timeline, at: int) -> dict[str, float]:
        """The scores of `scored(...)`, without building the entries."""
        return self._with_total(self._contributions(attributes, timeline, at)[2])

    def labels_at(self, ctx: Context) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for name, bands in self.labels:
            out[name] = next((label for label, check in bands if check(ctx)), None)
        return out

    def playbook_at(self, ctx: Context) -> PlaybookMatch | None:
        for i, check in enumerate(self.playbooks):
            if check(ctx):
                p = self.model.playbooks[i]
                return PlaybookMatch(i, p.action, p.priority, tuple(p.content), p.name)
        return None

    def next_change(self, lead: Lead, timeline: Timeline, at_us: int, decay_step_us: int = DAY_US) -> int | None:
        """Epoch micros of the earliest time after `at_us` when the result can change with no new event
        (None: never). May be early, never late; decaying leads come back every `decay_step_us`."""
        return next_change(self._windows, self._decaying, timeline, at_us, decay_step_us)

    # -- the whole result --------------------------------------------------------------------------
    def score(self, lead: Lead, events: Iterable[Event], at: datetime | str) -> Result:
        at_dt = parse_timestamp(at)
        at_us = to_micros(at_dt)
        own = (e for e in events if e.lead_id == lead.id)
        timeline = Timeline(own, until=at_us)
        return self.score_timeline(lead, timeline, at_us)

    def score_timeline(self, lead: Lead, timeline: Timeline, at_us: int, start: ReplayStart | None = None) -> Result:
        """The result at `at_us`. `start`: the lifecycle replay's state after the timeline's first
        events, from an earlier result (see `ReplayStart`); the result is the same as without it."""
        attributes = lead.attributes
        entries, scores = self.scored(attributes, timeline, at_us)
        ctx = Context(at_us, attributes, timeline, scores)
        stage: str | None = None
        history: list[StageChange] = []
        if self.lifecycle is not None:
            cache: dict[int, dict[str, float]] = {at_us: scores}

            def scores_at(t: int) -> dict[str, float]:
                if t not in cache:
                    cache[t] = self.scores_at(attributes, timeline, t)
                return cache[t]

            if self.lifecycle.spans is not None:
                stage, history = self.lifecycle.replay_spans(lead.id, attributes, timeline, at_us, scores_at, start)
            else:
                stage, history = self.lifecycle.replay(lead.id, attributes, timeline, at_us, scores_at)
        ctx.stage = stage
        ctx.labels = self.labels_at(ctx)
        extras: dict[str, Any] = {}
        if self.predictive:
            extras["predictions"] = {d: self.predict(d, attributes, timeline, at_us).to_dict() for d in self.predictive}
        return Result(
            lead_id=lead.id,
            at=from_micros(at_us),
            model=self.model.name,
            model_version=self.version,
            score=scores[TOTAL],
            dimensions={d: scores[d] for d in self.dimensions},
            labels=ctx.labels,
            stage=stage,
            breakdown=tuple(entries),
            playbook=self.playbook_at(ctx),
            stage_history=tuple(history),
            extras=extras,
        )

    def score_many(self, leads: Iterable[Lead], events: Iterable[Event], at: datetime | str) -> list[Result]:
        """Score every lead; events are grouped by lead id. Equals calling `score` for each lead."""
        at_us = to_micros(parse_timestamp(at))
        grouped: dict[str, list[Event]] = defaultdict(list)
        for e in events:
            grouped[e.lead_id].append(e)
        return [self.score_timeline(lead, Timeline(grouped.get(lead.id, ()), until=at_us), at_us) for lead in leads]


_CACHE: dict[int, Scorer] = {}


def scorer_for(model: ScoringModel) -> Scorer:
    """A compiled scorer per model object (models are immutable)."""
    key = id(model)
    found = _CACHE.get(key)
    if found is None or found.model is not model:
        if len(_CACHE) > 64:
            _CACHE.clear()
        found = _CACHE[key] = Scorer(model)
    return found


def score(
    model: ScoringModel,
    lead: Lead,
    events: Iterable[Event],
    at: datetime | str,
    predictors: Mapping[str, Predictor] | None = None,
) -> Result:
    """The reference scoring function: the result of `lead` with `events` at time `at`."""
    if predictors:
        return Scorer(model, predictors).score(lead, events, at)
    return scorer_for(model).score(lead, events, at)


def score_many(model: ScoringModel, leads: Iterable[Lead], events: Iterable[Event], at: datetime | str) -> list[Result]:
    return scorer_for(model).score_many(leads, events, at)
