"""What an automatic transition's condition can be over a lead's whole replay, from bounds alone.

Conditions on scores or events change with time, so the pure scorer evaluates them at every event.
Often their value cannot change: a lead whose engagement can never reach 30, whatever the instant,
never becomes an MQL by a `{score: engagement, gte: 30}` transition. Each condition gets two SQL
booleans over the lead's row: `may_hold` (true at some instant up to T, possibly) and `may_fail`.
When neither varies (one of them is FALSE), the condition is a constant and the replay is a fold.

Bounds, valid at every instant t <= T: an event rule earns between 0 and points x (matching events
up to T, or 1 with `once`), within its limit; a condition rule earns its points or nothing; floors
and caps clamp monotonically; counts lie in [0, matching events up to T].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from leadscore.engine.values import kind
from leadscore.model.conditions import (
    AggregateCondition,
    AllCondition,
    AnyCondition,
    AttributeCondition,
    Condition,
    CountCondition,
    EventCondition,
    LabelCondition,
    LastCondition,
    NoneCondition,
    NotCondition,
    ScoreCondition,
    StageCondition,
)
from leadscore.model.predicates import PredicateFields
from leadscore.model.spec import ConditionRule, EventRule, ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.condition_sql import Compiler


@dataclass(frozen=True)
class Maybe:
    may_hold: str
    may_fail: str


def _eps(x: float) -> str:
    return q.double(1e-9 * (1.0 + abs(x)))


def _num_pred(pred: PredicateFields, lo: str, hi: str) -> Maybe:
    """A predicate over a number known to lie in [lo, hi] (never missing)."""
    holds: list[str] = []
    fails: list[str] = []
    for key, arg in pred.predicate_items():
        if key == "exists":
            holds.append("TRUE" if arg else "FALSE")
            fails.append("FALSE" if arg else "TRUE")
            continue
        args: Sequence[Any] = arg if key in ("in", "not_in", "between") else [arg]
        if key in ("in", "not_in"):
            args = [a for a in args if kind(a) == "num"]  # other kinds never equal a number
        if key in ("contains", "matches") or not args or any(kind(a) != "num" for a in args):
            m = Maybe("FALSE", "TRUE")  # a number never equals or orders with text or booleans
            if key in ("ne", "not_in"):
                m = Maybe("TRUE", "FALSE")
            holds.append(m.may_hold)
            fails.append(m.may_fail)
            continue
        if key == "between":
            a, b = (float(x) for x in args)
            holds.append(f"({hi} >= {q.double(a)} - {_eps(a)} AND {lo} <= {q.double(b)} + {_eps(b)})")
            fails.append(f"({lo} < {q.double(a)} + {_eps(a)} OR {hi} > {q.double(b)} - {_eps(b)})")
            continue
        if key in ("gt", "gte"):
            x = float(arg)
            holds.append(f"({hi} >= {q.double(x)} - {_eps(x)})")
            fails.append(f"({lo} <= {q.double(x)} + {_eps(x)})")
            continue
        if key in ("lt", "lte"):
            x = float(arg)
            holds.append(f"({lo} <= {q.double(x)} + {_eps(x)})")
            fails.append(f"({hi} >= {q.double(x)} - {_eps(x)})")
            continue
        # eq / ne / in / not_in: a point inside the interval may be hit; only a fixed value is certain
        hit = q.any_of(
            [
                f"({lo} <= {q.double(float(a))} + {_eps(float(a))} AND {hi} >= {q.double(float(a))} - {_eps(float(a))})"
                for a in args
            ]
        )
        fixed = q.any_of([f"({lo} = {q.double(float(a))} AND {hi} = {q.double(float(a))})" for a in args])
        if key in ("eq", "in"):
            holds.append(hit)
            fails.append(q.negate(fixed))
        else:
            holds.append(q.negate(fixed))
            fails.append(hit)
    return Maybe(q.all_of(holds), q.any_of(fails))


class Bounds:
    def __init__(self, c: Compiler, model: ScoringModel) -> None:
        self.c = c
        self.model = model
        self._dims: dict[str, tuple[str, str]] = {}

    def _exact(self, cond: Condition) -> Maybe:
        sql = self.c.condition(cond)
        return Maybe(sql, q.negate(sql))

    def _all_time(self, types: Sequence[str], where: Any) -> str:
        return self.c.count(self.c.event_filter(types, where, None))

    def _events_ever(self, cond: EventCondition) -> str:
        """The events the condition could read at some instant up to T: its window left out."""
        return self._all_time(cond.types, cond.where)

    def condition(self, cond: Condition) -> Maybe:
        """The bounds' handler of every condition kind."""
        match cond:
            case AttributeCondition():
                return self._exact(cond)
            case ScoreCondition():
                lo, hi = self.score(cond.score)
                return _num_pred(cond, lo, hi)
            case CountCondition():
                return _num_pred(cond, "0", self._events_ever(cond))
            case AggregateCondition() | NoneCondition() | LastCondition():
                none_ever = f"({self._events_ever(cond)} = 0)"
                at_t = self.c.condition(cond)  # with no matching event ever, its value never changes
                return Maybe(f"(NOT {none_ever} OR {at_t})", f"(NOT {none_ever} OR NOT {at_t})")
            case AllCondition():
                parts = [self.condition(x) for x in cond.all]
                return Maybe(q.all_of([p.may_hold for p in parts]), q.any_of([p.may_fail for p in parts]))
            case AnyCondition():
                parts = [self.condition(x) for x in cond.any]
                return Maybe(q.any_of([p.may_hold for p in parts]), q.all_of([p.may_fail for p in parts]))
            case NotCondition():
                inner = self.condition(cond.not_)
                return Maybe(inner.may_fail, inner.may_hold)
            case LabelCondition() | StageCondition():  # pragma: no cover - not allowed in a lifecycle
                return Maybe("TRUE", "TRUE")
            case _:
                assert_never(cond)

    def _rule(self, rule: Any) -> tuple[str, str]:
        p = float(rule.points)
        if isinstance(rule, EventRule):
            n = self._all_time(rule.on, rule.where)
            reach = f"least({n}, 1)" if rule.once else n
            extreme = f"({q.double(p)} * {reach})"
            if rule.limit is not None:
                lim = q.double(rule.limit)
                extreme = f"least({extreme}, {lim})" if p >= 0 else f"greatest({extreme}, -{lim})"
            return ("CAST(0.0 AS DOUBLE)", extreme) if p >= 0 else (extreme, "CAST(0.0 AS DOUBLE)")
        assert isinstance(rule, ConditionRule)
        m = self.condition(rule.when)
        zero, pts = "CAST(0.0 AS DOUBLE)", q.double(p)
        earn = f"(CASE WHEN {m.may_hold} THEN {pts} ELSE {zero} END)"
        keep = f"(CASE WHEN {m.may_fail} THEN {zero} ELSE {pts} END)"
        return (f"least({earn}, {keep})", f"greatest({earn}, {keep})")

    def dimension(self, dim: str) -> tuple[str, str]:
        if dim not in self._dims:
            parts = [self._rule(r) for r in self.model.rules if self.model.dimension_of(r) == dim]
            lo = "(" + " + ".join(["CAST(0.0 AS DOUBLE)", *(a for a, _ in parts)]) + ")"
            hi = "(" + " + ".join(["CAST(0.0 AS DOUBLE)", *(b for _, b in parts)]) + ")"
            spec = self.model.dimension_spec(dim)
            for bound in ("floor", "cap"):
                value = getattr(spec, bound)
                if value is not None:
                    fn = "greatest" if bound == "floor" else "least"
                    lo, hi = f"{fn}({lo}, {q.double(value)})", f"{fn}({hi}, {q.double(value)})"
            self._dims[dim] = (lo, hi)
        return self._dims[dim]

    def score(self, name: str) -> tuple[str, str]:
        if name != "total":
            return self.dimension(name)
        dims = [self.dimension(d) for d in self.model.dimension_names()]
        return ("(" + " + ".join(lo for lo, _ in dims) + ")", "(" + " + ".join(hi for _, hi in dims) + ")")
