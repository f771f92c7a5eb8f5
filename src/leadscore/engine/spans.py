"""What a lead's conditions and scores can be over a span of time [ta, tb], from its timeline alone.

The lifecycle replay needs the automatic transitions' conditions at every event's time; evaluating
them exactly costs every rule at every event (quadratic with decay). Most of the time no transition
is anywhere near firing, and that can be proved for whole spans of events at once: event counts in
a window over [ta, tb] lie between the events present throughout and the events present at some
point; a decayed sum lies between 0 and its points times that count; a `last` bound is monotone
in t; an aggregate is constant while no event enters or leaves its window. A condition is then
True, False, or unknown (None) over the span (three-valued, Kleene's logic for all/any/not), and
a transition whose condition is False over a span cannot fire anywhere in it.

Here: the model's rules compiled once (`SpanModel`) and a lead's score bounds over a span
(`SpanView.score`); the conditions over a span are `span_conditions`, the counts, windows and
three-valued arithmetic they share `span_bounds`.

Every bound holds for the exact values the pure scorer computes: counts are exact integers, and
score comparisons keep a margin far above the rounding of the sums.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadscore.engine.compile import compile_where
from leadscore.engine.decay_sums import HalfLifeSums, LinearSums
from leadscore.engine.span_bounds import Interval, micros
from leadscore.engine.span_conditions import Node, node
from leadscore.engine.timeline import EventFilter, Matched, Timeline
from leadscore.model.conditions import Condition
from leadscore.model.spec import ConditionRule, EventRule, HalfLife, ScoringModel


@dataclass(frozen=True)
class _Rule:
    dimension: int
    points: float
    types: tuple[str, ...] | None  # None: a condition rule
    where: EventFilter
    within: int | None  # for the bounds: the window, or where linear decay reaches zero
    once: bool
    decays: bool
    limit: float | None
    when: Node | None
    half_life: int | None = None  # micros
    linear: int | None = None  # micros


class SpanModel:
    """The model's rules and conditions compiled once for span bounds (per scorer, not per lead)."""

    def __init__(self, model: ScoringModel) -> None:
        self.model = model
        self.dimensions = model.dimension_names()
        self.limits = [(model.dimension_spec(d).floor, model.dimension_spec(d).cap) for d in self.dimensions]
        # a trained dimension's value at a time is known only by asking its model: over a span it is
        # anything (within the dimension's floor and cap), so conditions on it or on `total` are
        # unknown there and are evaluated exactly, while the others still decide whole spans
        trained = model.predictive_dimensions()
        self.trained = [d in trained for d in self.dimensions]
        self.rules: list[_Rule] = []
        for rule in model.rules:
            dim = self.dimensions.index(model.dimension_of(rule))
            if isinstance(rule, EventRule):
                within = micros(rule.within)
                if rule.decay is not None and not isinstance(rule.decay, HalfLife):
                    reach = int(rule.decay.linear) * 1_000_000  # older events earn nothing
                    within = reach if within is None else min(within, reach)
                self.rules.append(
                    _Rule(
                        dim,
                        float(rule.points),
                        rule.on,
                        compile_where(rule.where),
                        within,
                        rule.once,
                        rule.decay is not None,
                        rule.limit,
                        None,
                        micros(rule.decay.half_life) if isinstance(rule.decay, HalfLife) else None,
                        micros(getattr(rule.decay, "linear", None)),
                    )
                )
            else:
                assert isinstance(rule, ConditionRule)
                self.rules.append(_Rule(dim, float(rule.points), None, None, None, False, False, None, None))
        # condition rules' conditions, compiled after `self.rules` exists (score conditions read it)
        for i, rule in enumerate(model.rules):
            if isinstance(rule, ConditionRule):
                r = self.rules[i]
                self.rules[i] = _Rule(r.dimension, r.points, None, None, None, False, False, None, self.node(rule.when))

    def dimension_index(self, name: str) -> int | None:
        """Index of a dimension, len(dimensions) for `total`, None for a name the model lacks."""
        if name == "total":
            return len(self.dimensions)
        return self.dimensions.index(name) if name in self.dimensions else None

    def node(self, cond: Condition) -> Node:
        """The span engine's handler of every condition kind (`span_conditions.node`)."""
        return node(cond, self.dimension_index)

    def view(self, attributes: Mapping[str, Any], timeline: Timeline) -> SpanView:
        return SpanView(self, attributes, timeline)


class SpanView:
    """One lead's timeline seen through a SpanModel."""

    def __init__(self, spans: SpanModel, attributes: Mapping[str, Any], timeline: Timeline) -> None:
        self.spans = spans
        self.attributes = attributes
        self.timeline = timeline
        self._scores: dict[tuple[int, int], list[tuple[float, float, float]]] = {}
        self._decay: dict[int, HalfLifeSums | LinearSums] = {}
        self.windows: dict[tuple[int, int, int], bool] = {}
        # per rule: its events (event rules), and its bounds when they are the same over every span
        # (a condition rule on attributes; an event rule with no matching event): computed once per
        # lead instead of at every span the replay probes
        # The fixed rules' bounds are summed once per dimension; `score` then walks only the others.
        n = len(spans.dimensions)
        self._base_lo, self._base_hi, self._base_size = [0.0] * n, [0.0] * n, 0.0
        self._varying: list[tuple[_Rule, Matched | None]] = []
        self.kept: list[tuple[_Rule, Matched | None, Interval]] = []  # the fixed rules and their bounds
        for r in spans.rules:
            m = None if r.types is None else timeline.matching(r.types, r.where)
            if (r.when is not None and r.when.constant) or (m is not None and not m.ts):
                lo, hi = self._rule(r, m, 0, 0)
                self.kept.append((r, m, (lo, hi)))
                self._base_lo[r.dimension] += lo
                self._base_hi[r.dimension] += hi
                self._base_size += abs(lo) + abs(hi)
            else:
                self._varying.append((r, m))

    def _decayed(self, r: _Rule, m: Matched, ta: int, tb: int) -> Interval:
        """Bounds of a decayed sum (points not applied) over [ta, tb]: at least the events present
        throughout, decayed to tb; at most the events in the window at ta decayed to ta, plus one
        for each event arriving in (ta, tb] (a factor never exceeds 1 and only shrinks with time)."""
        sums = self._decay.get(id(r))
        if sums is None:
            sums = HalfLifeSums(m.ts, r.half_life) if r.half_life is not None else LinearSums(m.ts, r.linear or 1)
            self._decay[id(r)] = sums
        ts, w = m.ts, r.within
        at_a, at_b = bisect_right(ts, ta), bisect_right(ts, tb)
        first_up = bisect_right(ts, ta - w) if w is not None else 0
        first_lo = bisect_right(ts, tb - w) if w is not None else 0
        up, err_up = sums.at(ta, first_up, at_a)
        low, err_lo = sums.at(tb, first_lo, at_a) if first_lo < at_a else (0.0, 0.0)
        return max(0.0, low - err_lo), up + err_up + (at_b - at_a)

    def _rule(self, r: _Rule, m: Matched | None, ta: int, tb: int) -> Interval:
        p = r.points
        if m is None:
            assert r.when is not None
            holds = r.when.tri(self, ta, tb)
            return (p, p) if holds else (0.0, 0.0) if holds is False else (min(0.0, p), max(0.0, p))
        # count_range, inlined: this is the replay's innermost loop
        ts, within = m.ts, r.within
        if within is None:
            lo, hi = bisect_right(ts, ta), bisect_right(ts, tb)
        else:
            hi = bisect_right(ts, tb) - bisect_right(ts, ta - within)
            lo = bisect_right(ts, ta) - bisect_right(ts, tb - within)
            lo = lo if lo > 0 else 0
        if r.once:
            lo, hi = min(lo, 1), min(hi, 1)
        if r.decays and not r.once:
            d_lo, d_hi = self._decayed(r, m, ta, tb)
            a, b = p * d_lo, p * d_hi
        else:
            a, b = (0.0, p * hi) if r.decays else (p * lo, p * hi)  # a decay factor lies in [0, 1]
        lo_v, hi_v = min(a, b), max(a, b)
        limit = r.limit
        if limit is not None:  # min(total, limit), or max(total, -limit) for negative points: monotone
            lo_v, hi_v = (min(lo_v, limit), min(hi_v, limit)) if p >= 0 else (max(lo_v, -limit), max(hi_v, -limit))
        return lo_v, hi_v

    def score(self, ta: int, tb: int, index: int) -> tuple[float, float, float]:
        """(low, high, margin) of a dimension (or, at index len(dimensions), the total) over [ta, tb]."""
        key = (ta, tb)
        found = self._scores.get(key)
        if found is None:
            spans = self.spans
            lows, highs, size = self._base_lo[:], self._base_hi[:], self._base_size
            rule = self._rule
            for r, m in self._varying:
                lo, hi = rule(r, m, ta, tb)
                lows[r.dimension] += lo
                highs[r.dimension] += hi
                size += abs(lo) + abs(hi)
            dims: list[Interval] = []
            for j, (floor, cap) in enumerate(spans.limits):
                lo, hi = (-math.inf, math.inf) if spans.trained[j] else (lows[j], highs[j])
                if floor is not None:
                    lo, hi = max(lo, floor), max(hi, floor)
                if cap is not None:
                    lo, hi = min(lo, cap), min(hi, cap)
                dims.append((lo, hi))
            size += sum(abs(v) for dim in dims for v in dim if math.isfinite(v))
            margin = 1e-9 * (1.0 + size)  # far above the rounding of fsum against plain sums
            dims.append((sum(lo for lo, _ in dims), sum(hi for _, hi in dims)))  # the total
            found = [(lo, hi, margin) for lo, hi in dims]
            if len(self._scores) > 64:
                self._scores.clear()
            self._scores[key] = found
        return found[index]
