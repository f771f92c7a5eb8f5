"""Conditions and event filters compiled once per model into closures over an evaluation context.

The context is what a condition may look at: the lead's attributes, its timeline, the time T, and,
where the format allows it, the scores, labels and stage already computed at T.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, assert_never

from leadscore.domain.events import Event
from leadscore.domain.numbers import exact_sum
from leadscore.engine.timeline import EventFilter, PropertyFilter, Timeline
from leadscore.engine.values import MISSING, compile_predicate, is_number
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
from leadscore.model.predicates import Predicate


@dataclass(slots=True)
class Context:
    at: int
    attributes: Mapping[str, Any]
    timeline: Timeline
    scores: Mapping[str, float] = field(default_factory=dict)
    labels: dict[str, str | None] = field(default_factory=dict)
    stage: str | None = None


Check = Callable[[Context], bool]


# Filters compiled once per distinct `where:` (by its predicates): a rule's filter, its span bounds'
# and its horizon are then one object, whose matching events a timeline finds once (it caches them
# by the filter's identity), not three times. Bounded: a process that loads ever-new models stops
# sharing, it does not grow.
_WHERES: dict[str, EventFilter] = {}
WHERES_KEPT = 4096


def compile_where(where: Mapping[str, Predicate]) -> EventFilter:
    if not where:
        return None
    key = repr([(prop, pred.predicate_items()) for prop, pred in where.items()])
    found = _WHERES.get(key)
    if found is None:
        found = _compile_where(where)
        if len(_WHERES) < WHERES_KEPT:
            _WHERES[key] = found
    return found


def _compile_where(where: Mapping[str, Predicate]) -> EventFilter:
    tests = [(prop, compile_predicate(pred)) for prop, pred in where.items()]
    if len(tests) == 1:
        ((prop, test),) = tests
        return PropertyFilter(prop, test)

    def check(e: Event) -> bool:
        props = e.properties
        return all(test(props.get(prop, MISSING)) for prop, test in tests)

    return check


def _micros(d: int | None) -> int | None:
    return None if d is None else int(d) * 1_000_000


def aggregate(function: str, values: list[float]) -> Any:
    """sum over nothing is 0; min / max / avg over nothing are missing (MODEL-FORMAT.md)."""
    if function == "sum":
        return exact_sum(values)
    if not values:
        return MISSING
    if function == "min":
        return min(values)
    if function == "max":
        return max(values)
    return exact_sum(values) / len(values)


def compile_condition(cond: Condition) -> Check:
    """The pure scorer's handler of every condition kind (the reference the other engines agree with)."""
    match cond:
        case AttributeCondition():
            name, test = cond.attribute, compile_predicate(cond)
            return lambda ctx: test(ctx.attributes.get(name, MISSING))

        case CountCondition():
            types, where, within = cond.types, compile_where(cond.where), _micros(cond.within)
            test = compile_predicate(cond)

            def count(ctx: Context) -> bool:
                _, lo, hi = ctx.timeline.window(types, ctx.at, within, where)
                return test(hi - lo)

            return count

        case AggregateCondition():
            fn, prop = cond.function, cond.property
            types, where, within = cond.types, compile_where(cond.where), _micros(cond.within)
            test = compile_predicate(cond)

            def agg(ctx: Context) -> bool:
                values = [
                    e.properties[prop]
                    for _, e in ctx.timeline.select(types, ctx.at, within, where)
                    if is_number(e.properties.get(prop))
                ]
                return test(aggregate(fn, values))

            return agg

        case NoneCondition():
            types, where, within = cond.types, compile_where(cond.where), _micros(cond.within)

            def absent(ctx: Context) -> bool:
                _, lo, hi = ctx.timeline.window(types, ctx.at, within, where)
                return hi == lo

            return absent

        case LastCondition():
            types, where = cond.types, compile_where(cond.where)
            older, newer = _micros(cond.older_than), _micros(cond.newer_than)

            def last(ctx: Context) -> bool:
                m, _, hi = ctx.timeline.window(types, ctx.at, None, where)
                if hi == 0:
                    return False
                latest = m.ts[hi - 1]
                if older is not None and not latest <= ctx.at - older:
                    return False
                return not (newer is not None and not latest > ctx.at - newer)

            return last

        case ScoreCondition():
            dim, test = cond.score, compile_predicate(cond)
            return lambda ctx: test(ctx.scores.get(dim, MISSING))

        case LabelCondition():
            name, test = cond.label, compile_predicate(cond)

            def label(ctx: Context) -> bool:
                value = ctx.labels.get(name)
                return test(MISSING if value is None else value)

            return label

        case StageCondition():
            test = compile_predicate(cond.stage)
            return lambda ctx: test(MISSING if ctx.stage is None else ctx.stage)

        case AllCondition():
            parts = [compile_condition(c) for c in cond.all]
            return lambda ctx: all(p(ctx) for p in parts)

        case AnyCondition():
            parts = [compile_condition(c) for c in cond.any]
            return lambda ctx: any(p(ctx) for p in parts)

        case NotCondition():
            inner = compile_condition(cond.not_)
            return lambda ctx: not inner(ctx)

        case _:
            assert_never(cond)
