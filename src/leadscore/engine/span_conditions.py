"""Each condition kind three-valued over a span of time [ta, tb] of one lead (`Node.tri`): True or
False when it holds or fails at every time of the span, None when that cannot be proved there (then
the replay evaluates it exactly). Event counts in a window lie between the events present throughout
and those present at some point; an aggregate is constant while no event enters or leaves its
window; a `last` bound is monotone in t; a score condition reads the score's bounds (`spans.SpanView`).
Apart from the rules' bounds (`spans`) because this is the condition kinds' handler for the one-pass
lifecycle replay (docs/architecture.md): `node` gives each kind its class.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from typing import Any, Protocol, assert_never

from leadscore.engine.compile import Check, Context, compile_condition, compile_where
from leadscore.engine.span_bounds import Tri, changes_within, count_range, kleene_and, kleene_or, micros, number_tri
from leadscore.engine.timeline import Timeline
from leadscore.engine.values import MISSING, compile_predicate
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


class LeadView(Protocol):
    """What a condition reads of a lead's view (`spans.SpanView`, which imports this module)."""

    attributes: Mapping[str, Any]
    timeline: Timeline
    windows: dict[tuple[int, int, int], bool]

    def score(self, ta: int, tb: int, index: int) -> tuple[float, float, float]: ...


class Node:
    """A condition, three-valued over a span."""

    constant = False  # its value is the same over every span of a lead (attribute tests only)

    def tri(self, v: LeadView, ta: int, tb: int) -> Tri:  # pragma: no cover - abstract
        raise NotImplementedError


class _Exact(Node):
    """Attribute tests: constant over the replay."""

    constant = True

    def __init__(self, check: Check) -> None:
        self.check = check

    def tri(self, v: LeadView, ta: int, tb: int) -> Tri:
        return self.check(Context(ta, v.attributes, v.timeline))


class _Count(Node):
    """A count of events (`pred`: its predicate) or, without `pred`, their absence (`none:`)."""

    def __init__(self, cond: CountCondition | NoneCondition, pred: PredicateFields | None) -> None:
        self.none = pred is None
        self.types = cond.types
        self.where = compile_where(cond.where)
        self.within = micros(cond.within)
        self.test = None if pred is None else compile_predicate(pred)
        self.pred = pred

    def tri(self, v: LeadView, ta: int, tb: int) -> Tri:
        lo, hi = count_range(v.timeline.matching(self.types, self.where), self.within, ta, tb)
        if self.none:
            return True if hi == 0 else False if lo > 0 else None
        assert self.test is not None and self.pred is not None
        if lo == hi:
            return self.test(lo)
        return number_tri(self.pred, lo, hi, 0.0)


class _Windowed(Node):
    """Aggregates (and other conditions on a window's events): constant while no event enters or
    leaves the window, then exactly their value at ta."""

    def __init__(self, cond: AggregateCondition) -> None:
        self.types = cond.types
        self.where = compile_where(cond.where)
        self.within = micros(cond.within)
        self.check = compile_condition(cond)

    def tri(self, v: LeadView, ta: int, tb: int) -> Tri:
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


class _Last(Node):
    def __init__(self, cond: LastCondition) -> None:
        self.types = cond.types
        self.where = compile_where(cond.where)
        self.older = micros(cond.older_than)
        self.newer = micros(cond.newer_than)

    def tri(self, v: LeadView, ta: int, tb: int) -> Tri:
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
        return kleene_and(parts)


class _Score(Node):
    def __init__(self, cond: ScoreCondition, dimension_index: Callable[[str], int | None]) -> None:
        self.cond = cond
        self.test = compile_predicate(cond)
        self.index = dimension_index(cond.score)

    def tri(self, v: LeadView, ta: int, tb: int) -> Tri:
        if self.index is None:
            return self.test(MISSING)
        lo, hi, margin = v.score(ta, tb, self.index)
        return number_tri(self.cond, lo, hi, margin)


class _Logic(Node):
    def __init__(self, op: str, parts: list[Node]) -> None:
        self.op = op
        self.parts = parts
        self.constant = all(p.constant for p in parts)

    def tri(self, v: LeadView, ta: int, tb: int) -> Tri:
        if self.op == "not":
            inner = self.parts[0].tri(v, ta, tb)
            return None if inner is None else not inner
        values = [p.tri(v, ta, tb) for p in self.parts]
        return kleene_and(values) if self.op == "all" else kleene_or(values)


class _Unknown(Node):
    constant = True

    def tri(self, v: LeadView, ta: int, tb: int) -> Tri:
        return None


def node(cond: Condition, dimension_index: Callable[[str], int | None]) -> Node:
    """The span engine's handler of every condition kind; `dimension_index` as `SpanModel.dimension_index`
    (a score condition's dimension, len(dimensions) for `total`, None for a name the model lacks)."""
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
            return _Score(cond, dimension_index)
        case AllCondition():
            return _Logic("all", [node(c, dimension_index) for c in cond.all])
        case AnyCondition():
            return _Logic("any", [node(c, dimension_index) for c in cond.any])
        case NotCondition():
            return _Logic("not", [node(cond.not_, dimension_index)])
        case LabelCondition() | StageCondition():
            return _Unknown()  # not allowed in a lifecycle: always evaluated exactly
        case _:
            assert_never(cond)
