"""Each rule's contribution as SQL: filter -> window -> once -> decay -> sum -> limit, as in engine.rules."""

from __future__ import annotations

from dataclasses import dataclass

from leadscore.model.spec import ConditionRule, EventRule, HalfLife, RuleModel
from leadscore.sql import literals as q
from leadscore.sql.condition_sql import TS, Compiler


@dataclass(frozen=True, slots=True)
class RuleSql:
    id: str
    dimension: str
    points: str  # DOUBLE over the lead's row
    events: str | None  # BIGINT for event rules, None for condition rules


def _factor(rule: EventRule, ts: str, at: int | str) -> str:
    """Python computes age_s = (at - ts) / 1e6 as an exactly rounded double; so does this."""
    age = f"(CAST({at} - {ts} AS DOUBLE) / CAST(1000000.0 AS DOUBLE))"
    assert rule.decay is not None
    if isinstance(rule.decay, HalfLife):
        return f"power(CAST(0.5 AS DOUBLE), {age} / {q.double(int(rule.decay.half_life))})"
    return f"greatest(CAST(0.0 AS DOUBLE), CAST(1.0 AS DOUBLE) - {age} / {q.double(int(rule.decay.linear))})"


def event_rule(c: Compiler, rule: EventRule) -> RuleSql:
    flt = c.event_filter(rule.on, rule.where, rule.within)
    n = c.count(flt)
    pts = q.double(rule.points)
    if rule.decay is None:
        total = f"(CASE WHEN {n} > 0 THEN {pts} ELSE CAST(0.0 AS DOUBLE) END)" if rule.once else f"({pts} * {n})"
    elif rule.once:
        # the latest time of the matching events exists exactly when one matched: the count then feeds
        # the breakdown alone, and a run without one (DuckDB drops unread aggregates) does not compute it
        latest = c.latest(flt)
        total = (
            f"(CASE WHEN {latest} IS NOT NULL THEN {pts} * {_factor(rule, latest, c.at)} ELSE CAST(0.0 AS DOUBLE) END)"
        )
    elif flt == "FALSE":
        total = "CAST(0.0 AS DOUBLE)"
    else:
        # CASE rather than FILTER: engines compute an aggregate's argument for every row before the
        # filter applies, and power() over all events costs more than the rest of the aggregate
        flag = c.flag(flt)
        factor = c.factor(_factor(rule, TS, c.at), flag)
        summed = c.aggs.add(f"{c.sum_agg}(CASE WHEN {flag} THEN {pts} * {factor} END)")
        total = f"coalesce({summed}, CAST(0.0 AS DOUBLE))"
    if rule.limit is not None:
        lim = q.double(rule.limit)
        total = f"least({total}, {lim})" if rule.points >= 0 else f"greatest({total}, -{lim})"
    return RuleSql(rule.id, rule.dimension or "score", total, n)


def condition_rule(c: Compiler, rule: ConditionRule) -> RuleSql:
    cond = c.condition(rule.when)
    pts = q.double(rule.points)
    total = f"(CASE WHEN {cond} THEN {pts} ELSE CAST(0.0 AS DOUBLE) END)"
    return RuleSql(rule.id, rule.dimension or "score", total, None)


def rule_sql(c: Compiler, rule: RuleModel) -> RuleSql:
    if isinstance(rule, EventRule):
        return event_rule(c, rule)
    return condition_rule(c, rule)
