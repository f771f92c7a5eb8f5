"""Rule evaluation: each rule's contribution at time T, before dimension floors and caps."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from leadscore.engine.compile import Check, Context, compile_condition, compile_where
from leadscore.model.spec import ConditionRule, EventRule, HalfLife, RuleModel


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    dimension: str
    evaluate: Callable[[Context], tuple[float, int | None]]


def decay_factor(rule: EventRule) -> Callable[[float], float] | None:
    """Weight of an event of age `age_s` seconds: 0.5 ** (age / half_life), or max(0, 1 - age / L)."""
    if rule.decay is None:
        return None
    if isinstance(rule.decay, HalfLife):
        hl = float(int(rule.decay.half_life))
        return lambda age_s: 0.5 ** (age_s / hl)
    length = float(int(rule.decay.linear))
    return lambda age_s: max(0.0, 1.0 - age_s / length)


def compile_event_rule(rule: EventRule) -> Callable[[Context], tuple[float, int | None]]:
    types = rule.on
    where = compile_where(rule.where)
    within = int(rule.within) * 1_000_000 if rule.within is not None else None
    points, limit, once = float(rule.points), rule.limit, rule.once
    factor = decay_factor(rule)

    def evaluate(ctx: Context) -> tuple[float, int | None]:
        m, lo, hi = ctx.timeline.window(types, ctx.at, within, where)
        count = hi - lo
        if not count:
            return 0.0, 0
        # `once`: the most recent; at equal times the later in input order (the last of the range)
        first = hi - 1 if once else lo
        if factor is None:
            total = points * (hi - first)
        else:
            at, ts = ctx.at, m.ts
            total = math.fsum(points * factor((at - ts[i]) / 1_000_000) for i in range(first, hi))
        if limit is not None:
            total = min(total, limit) if points >= 0 else max(total, -limit)
        return total, count

    return evaluate


def compile_condition_rule(rule: ConditionRule) -> Callable[[Context], tuple[float, int | None]]:
    check: Check = compile_condition(rule.when)
    points = float(rule.points)
    return lambda ctx: (points if check(ctx) else 0.0, None)


def compile_rule(rule: RuleModel, dimension: str) -> CompiledRule:
    if isinstance(rule, EventRule):
        return CompiledRule(rule.id, dimension, compile_event_rule(rule))
    return CompiledRule(rule.id, dimension, compile_condition_rule(rule))
