"""What the one-pass replay's conditions compute from its window aggregates, as data, for an engine that
evaluates them over arrays instead of SQL (`bulk.frame_scores`).

`stage_windows` compiles the rules and conditions at each (lead, time) row into SQL over the window
aggregates; that SQL (its rule points, sums per dimension and the three-valued score conditions) cost
as much as the aggregates themselves. Here each rule and automatic condition is described by the
aggregates it reads (their aliases) and its numbers, so the same values follow from a few array
operations per rule. Only what reads the lead's own row (attribute conditions) stays SQL, evaluated
once per lead, not once per row. A model with something else (a property's sum, a `last` condition,
a label...) has no plan: its conditions keep the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, assert_never

from leadscore.engine.values import kind
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
from leadscore.model.spec import ScoringModel

# the comparisons a plan evaluates: on counts exactly, on scores three-valued within their error
_KEYS = frozenset({"gt", "gte", "lt", "lte", "between", "eq", "ne", "in", "not_in"})


class WindowCompiler(Protocol):
    """What a plan reads of `window_compiler.WindowCompiler` (which imports this module)."""

    windowed: dict[str, tuple[str, int | None]]
    dimension_columns: Mapping[str, str]
    rule_plans: list[RulePlan] | None

    def condition(self, cond: Condition) -> str: ...
    def events_of(self, cond: Any) -> str: ...
    def window_agg(self, fn: str, flt: str, value: str, micros: int | None) -> str: ...


class NoPlan(Exception):
    """Something the arrays do not compute: the conditions stay SQL."""


@dataclass(frozen=True)
class RulePlan:
    """One rule's points at each row. `kind`: "zero"; "count" (points x n, or points once n > 0 with
    `once`); "once_decay" (points x the latest event's factor); "half_life" / "linear" (the rewritten
    decayed sums of `window_rules._half_life_sum` / `_linear_sum`); "cond" (points where `cond` holds)."""

    dimension: str
    kind: str
    points: float
    limit: float | None = None
    once: bool = False
    n: str | None = None  # the count of the rule's events in its frame
    latest: str | None = None  # "once_decay": the latest event's time
    half_life: int | None = None  # micros ("half_life", "once_decay" with a half-life)
    linear: int | None = None  # micros ("linear", "once_decay" with a linear decay)
    sums: tuple[str, str] = ("", "")  # "half_life": the epoch sums of parity 0 and 1
    period: int = 0  # "half_life": the epochs' length
    old: str | None = None  # "half_life": the count over the rule's whole window, when it passes the cut
    sum_ts: str | None = None  # "linear": the sum of the events' times
    cond: tuple[Any, ...] | None = None  # "cond"


@dataclass(frozen=True)
class ArrayPlan:
    rules: list[RulePlan]
    conditions: list[tuple[Any, ...]]  # each automatic transition's condition, as `cond_plan` gives it
    lead_sql: dict[str, str]  # SQL over the lead's row -> its column (booleans, NULL as false)
    dims: list[tuple[str, float | None, float | None]]  # (name, floor, cap) in model order


def _numbers(items: list[tuple[str, Any]], keys: frozenset[str]) -> list[tuple[str, Any]]:
    out = []
    for key, arg in items:
        if key not in keys:
            raise NoPlan(key)
        args = arg if key in ("in", "not_in", "between") else [arg]
        if not args or any(kind(a) != "num" or isinstance(a, bool) for a in args):
            raise NoPlan(key)
        out.append((key, arg))
    return out


def cond_plan(c: WindowCompiler, cond: Condition, lead_sql: dict[str, str]) -> tuple[Any, ...]:
    """A condition as a tree: ("lead", column) | ("count", alias or None, predicates) | ("none", alias
    or None) | ("score", name, predicates) | ("all" / "any", parts) | ("not", part). Its leaves are
    read as `window_errors.tri` reads them: an attribute condition's NULL as false."""
    match cond:
        case AttributeCondition():
            sql = f"coalesce({c.condition(cond)}, FALSE)"
            name = lead_sql.setdefault(sql, f"_ls_lc{len(lead_sql)}")
            return ("lead", name)
        case CountCondition():
            return ("count", _count_alias(c, cond), _numbers(cond.predicate_items(), _KEYS))
        case NoneCondition():
            return ("none", _count_alias(c, cond))
        case ScoreCondition():
            if cond.score != "total" and cond.score not in c.dimension_columns:
                raise NoPlan(cond.score)
            return ("score", cond.score, _numbers(cond.predicate_items(), _KEYS))
        case AllCondition():
            return ("all", [cond_plan(c, x, lead_sql) for x in cond.all])
        case AnyCondition():
            return ("any", [cond_plan(c, x, lead_sql) for x in cond.any])
        case NotCondition():
            return ("not", cond_plan(c, cond.not_, lead_sql))
        case AggregateCondition() | LastCondition() | LabelCondition() | StageCondition():
            raise NoPlan(type(cond).__name__)  # the SQL over the aggregates computes these
        case _:
            assert_never(cond)


def _count_alias(c: WindowCompiler, cond: CountCondition | NoneCondition) -> str | None:
    """The window count of the condition's events at each row (None: no event can match)."""
    token = c.events_of(cond)
    if token == "FALSE":
        return None
    base, micros = c.windowed[token]
    return c.window_agg("count", base, "1", micros)


def array_plan(c: WindowCompiler, model: ScoringModel, conditions: list[Condition]) -> ArrayPlan | None:
    """The plan of the rules `c` compiled (`c.rule_plans`, in model order) and of `conditions`; None
    when some part has none."""
    if c.rule_plans is None or len(c.rule_plans) != len(model.rules):
        return None
    lead_sql: dict[str, str] = {}
    try:
        rules = [
            RulePlan(p.dimension, "cond", p.points, cond=cond_plan(c, p.cond[0], lead_sql))
            if p.kind == "when" and p.cond is not None
            else p
            for p in c.rule_plans
        ]
        conds = [cond_plan(c, cond, lead_sql) for cond in conditions]
    except NoPlan:
        return None
    dims = []
    for d in model.dimension_names():
        spec = model.dimension_spec(d)
        dims.append((d, spec.floor, spec.cap))
    return ArrayPlan(rules, conds, lead_sql, dims)
