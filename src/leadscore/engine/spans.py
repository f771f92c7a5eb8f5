"""What a lead's conditions and scores can be over a span of time [ta, tb], from its timeline alone.

The lifecycle replay needs the automatic transitions' conditions at every event's time; evaluating
them exactly costs every rule at every event (quadratic with decay). Most of the time no transition
is anywhere near firing, and that can be proved for whole spans of events at once: event counts in
a window over [ta, tb] lie between the events present throughout and the events present at some
point; a decayed sum lies between 0 and its points times that count; a `last` bound is monotone
in t; an aggregate is constant while no event enters or leaves its window. A condition is then
True, False, or unknown (None) over the span (three-valued, Kleene's logic for all/any/not), and
a transition whose condition is False over a span cannot fire anywhere in it.

Every bound holds for the exact values the pure scorer computes: counts are exact integers, and
score comparisons keep a margin far above the rounding of the sums.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from leadscore.engine.compile import Check, Context, compile_condition, compile_where
from leadscore.engine.decay_sums import HalfLifeSums, LinearSums
from leadscore.engine.timeline import EventFilter, Matched, Timeline
from leadscore.engine.values import MISSING, compile_predicate, kind
from leadscore.model.conditions import (
    AggregateCondition,
    AllCondition,
    AnyCondition,
    AttributeCondition,
    Condition,
    CountCondition,
    LabelCondition,
    LastCondition,
    NoneCondition,
    NotCondition,
    ScoreCondition,
    StageCondition,
)
from leadscore.model.predicates import PredicateFields
from leadscore.model.spec import ConditionRule, EventRule, HalfLife, ScoringModel

Tri = bool | None
Interval = tuple[float, float]


def _micros(d: Any) -> int | None:
    return None if d is None else int(d) * 1_000_000


def count_range(m: Matched, within: int | None, ta: int, tb: int) -> tuple[int, int]:
    """Least and most events of `m` in the window (t - within, t] for any t in [ta, tb]."""
    ts = m.ts
    if within is None:
        return bisect_right(ts, ta), bisect_right(ts, tb)
    most = bisect_right(ts, tb) - bisect_right(ts, ta - within)
    least = bisect_right(ts, ta) - bisect_right(ts, tb - within)
    return max(0, least), most


def changes_within(m: Matched, within: int | None, ta: int, tb: int) -> bool:
    """Whether an event of `m` enters or leaves the window at some t in (ta, tb]."""
    ts = m.ts
    if bisect_right(ts, tb) != bisect_right(ts, ta):
        return True
    return within is not None and bisect_right(ts, tb - within) != bisect_right(ts, ta - within)


def _and(parts: Sequence[Tri]) -> Tri:
    if any(p is False for p in parts):
        return False
    return True if all(p is True for p in parts) else None


def _or(parts: Sequence[Tri]) -> Tri:
    if any(p is True for p in parts):
        return True
    return False if all(p is False for p in parts) else None


_ITEMS: dict[int, tuple[PredicateFields, list[tuple[str, Any]]]] = {}


def _items(pred: PredicateFields) -> list[tuple[str, Any]]:
    found = _ITEMS.get(id(pred))
    if found is None or found[0] is not pred:
        if len(_ITEMS) > 4096:
            _ITEMS.clear()
        found = _ITEMS[id(pred)] = (pred, pred.predicate_items())
    return found[1]


def number_tri(pred: PredicateFields, lo: float, hi: float, margin: float) -> Tri:
    """A predicate over a number known to lie in [lo - margin, hi + margin] (never missing)."""
    lo, hi = lo - margin, hi + margin
    out: list[Tri] = []
    for key, arg in _items(pred):
        if key == "exists":
            out.append(bool(arg))
            continue
        if key in ("contains", "matches"):
            out.append(False)
            continue
        args: list[Any] = list(arg) if key in ("in", "not_in", "between") else [arg]
        if key == "between":
            a, b = args
            if kind(a) != "num" or kind(b) != "num":
                out.append(False)
            elif lo >= a and hi <= b:
                out.append(True)
            else:
                out.append(False if hi < a or lo > b else None)
            continue
        nums = [a for a in args if kind(a) == "num"]
        if key in ("eq", "in", "ne", "not_in"):
            # equal to a point: certain only when the interval is that point
            hit: Tri = _or([True if lo == hi == a else (None if lo <= a <= hi else False) for a in nums])
            out.append(hit if key in ("eq", "in") else (None if hit is None else not hit))
            continue
        if not nums:
            out.append(False)  # a number never orders with text or booleans
            continue
        x = nums[0]
        if key == "gt":
            out.append(True if lo > x else False if hi <= x else None)
        elif key == "gte":
            out.append(True if lo >= x else False if hi < x else None)
        elif key == "lt":
            out.append(True if hi < x else False if lo >= x else None)
        else:  # lte
            out.append(True if hi <= x else False if lo > x else None)
    return _and(out)


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
    when: _Node | None
    half_life: int | None = None  # micros
    linear: int | None = None  # micros


class _Node:
    """A condition, three-valued over a span."""

    constant = False  # its value is the same over every span of a lead (attribute tests only)

    def tri(self, v: SpanView, ta: int, tb: int) -> Tri:  # pragma: no cover - abstract
        raise NotImplementedError


class _Exact(_Node):
    """Attribute tests: constant over the replay."""

    constant = True

    def __init__(self, check: Check) -> None:
        self.check = check

    def tri(self, v: SpanView, ta: int, tb: int) -> Tri:
        return self.check(Context(ta, v.attributes, v.timeline))


class _Count(_Node):
    """A count of events (`pred`: its predicate) or, without `pred`, their absence (`none:`)."""

    def __init__(self, cond: CountCondition | NoneCondition, pred: PredicateFields | None) -> None:
        self.none = pred is None
        self.types = cond.types
        self.where = compile_where(cond.where)
        self.within = _micros(cond.within)
        self.test = None if pred is None else compile_predicate(pred)
        self.pred = pred

    def tri(self, v: SpanView, ta: int, tb: int) -> Tri:
        lo, hi = count_range(v.timeline.matching(self.types, self.where), self.within, ta, tb)
        if self.none:
            return True if hi == 0 else False if lo > 0 else None
        assert self.test is not None and self.pred is not None
        if lo == hi:
            return self.test(lo)
        return number_tri(self.pred, lo, hi, 0.0)


class _Windowed(_Node):
    """Aggregates (and other conditions on a window's events): constant while no event enters or
    leaves the window, then exactly their value at ta."""

    def __init__(self, cond: AggregateCondition) -> None:
        self.types = cond.types
        self.where = compile_where(cond.where)
        self.within = _micros(cond.within)
        self.check = compile_condition(cond)

    def tri(self, v: SpanView, ta: int, tb: int) -> Tri:
        m = v.timeline.matching(self.types, self.where)
        if changes_within(m, self.within, ta, tb):
            return None
        # its value depends on the window's events only: computed once per set of events
        lo, hi = m.bounds(ta, self.within)
        key = (id(self), lo, hi)
        found = v.windows.get(key)
        if found is None:
            found = v.windows[key] = self.check(Context(ta, v.attributes, v.timeline))
        return found


class _Last(_Node):
    def __init__(self, cond: LastCondition) -> None:
        self.types = cond.types
        self.where = compile_where(cond.where)
        self.older = _micros(cond.older_than)
        self.newer = _micros(cond.newer_than)

    def tri(self, v: SpanView, ta: int, tb: int) -> Tri:
        m = v.timeline.matching(self.types, self.where)
        n = bisect_right(m.ts, ta)
        if bisect_right(m.ts, tb) != n:
            return None  # the latest event changes within the span
        if n == 0:
            return False
        latest = m.ts[n - 1]
        parts: list[Tri] = []
        if self.older is not None:  # latest <= t - older: false, then true as t grows
            a, b = latest <= ta - self.older, latest <= tb - self.older
            parts.append(a if a == b else None)
        if self.newer is not None:  # latest > t - newer: true, then false
            a, b = latest > ta - self.newer, latest > tb - self.newer
            parts.append(a if a == b else None)
        return _and(parts)


class _Score(_Node):
    def __init__(self, cond: ScoreCondition, spans: SpanModel) -> None:
        self.cond = cond
        self.spans = spans
        self.test = compile_predicate(cond)
        self.index = spans.dimension_index(cond.score)

    def tri(self, v: SpanView, ta: int, tb: int) -> Tri:
        if self.index is None:
            return self.test(MISSING)
        lo, hi, margin = v.score(ta, tb, self.index)
        return number_tri(self.cond, lo, hi, margin)


class _Logic(_Node):
    def __init__(self, op: str, parts: list[_Node]) -> None:
        self.op = op
        self.parts = parts
        self.constant = all(p.constant for p in parts)

    def tri(self, v: SpanView, ta: int, tb: int) -> Tri:
        if self.op == "not":
            inner = self.parts[0].tri(v, ta, tb)
            return None if inner is None else not inner
        values = [p.tri(v, ta, tb) for p in self.parts]
        return _and(values) if self.op == "all" else _or(values)


class _Unknown(_Node):
    constant = True

    def tri(self, v: SpanView, ta: int, tb: int) -> Tri:
        return None


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
                within = _micros(rule.within)
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
                        _micros(rule.decay.half_life) if isinstance(rule.decay, HalfLife) else None,
                        _micros(getattr(rule.decay, "linear", None)),
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

    def node(self, cond: Condition) -> _Node:
        """The span engine's handler of every condition kind."""
        match cond:
            case AttributeCondition():
                return _Exact(compile_condition(cond))
            case CountCondition():
                return _Count(cond, cond)
            case NoneCondition():
                return _Count(cond, None)
            case AggregateCondition():
                return _Windowed(cond)
            case LastCondition():
                return _Last(cond)
            case ScoreCondition():
                return _Score(cond, self)
            case AllCondition():
                return _Logic("all", [self.node(c) for c in cond.all])
            case AnyCondition():
                return _Logic("any", [self.node(c) for c in cond.any])
            case NotCondition():
                return _Logic("not", [self.node(cond.not_)])
            case LabelCondition() | StageCondition():
                return _Unknown()  # not allowed in a lifecycle: always evaluated exactly
            case _:
                assert_never(cond)

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
