"""The rules' points at each row's time in the one-pass lifecycle replay (`stage_windows`), as
`rule_sql.event_rule` computes them at T, with how far each may lie from the pure scorer's value.

Counts, sums and the latest time of matching events are window aggregates (`window_compiler`), exact.
The two decays whose per-event factor depends on t (a half-life and a linear decay without `once`)
are rewritten into window sums times a factor of the row's time, which rounds differently from the
pure scorer's sum of factors: those carry an error bound (`WindowRule.error`), which `window_errors`
turns into the certainty of each condition. Apart because the rewrite and its bounds are a piece of
numerical analysis of their own; the NumPy engine repeats it (`bulk.frame_scores`).

Half-life decay: 0.5 ** ((t - ts) / h) = 2 ** ((ts - E) / h) * 2 ** (-(t - E) / h) for an anchor E.
Time is cut into epochs of the frame's length P, each event anchored at the start of its epoch, so
its weight 2 ** ((ts - E) / h) lies in [1, 2 ** (P / h)]; a frame (t - P, t] covers at most the
row's epoch and the one before, whose weights are summed apart (by the epoch's parity) and scaled by
their own anchor. P is at most `CUT_HALF_LIVES` half-lives (no overflow); events older than that
weigh less than 2 ** -CUT_HALF_LIVES of their points, which the error bound covers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from leadscore.model.spec import ConditionRule, EventRule, HalfLife
from leadscore.sql import literals as q
from leadscore.sql.condition_sql import TS
from leadscore.sql.rule_sql import RuleSql, _factor, condition_rule
from leadscore.sql.stage_arrays import RulePlan
from leadscore.sql.window_compiler import ZERO, Frame, T, WindowCompiler

CUT_HALF_LIVES = 256
# Relative error of a rewritten half-life sum against the pure scorer's: each side rounds an exponent
# of at most 2 * CUT_HALF_LIVES (about 1e-13 once through 2 ** x), plus the sums' roundings per event.
_REL = "CAST(4e-12 AS DOUBLE)"
_REL_PER_EVENT = "CAST(4.5e-16 AS DOUBLE)"
EPS = 2.0**-52


def floor_div(x: str, d: int) -> str:
    """floor(x / d) for BIGINT x (`//` truncates toward zero; times before 1970 are negative)."""
    return f"({x} // {d} - (CASE WHEN {x} % {d} < 0 THEN 1 ELSE 0 END))"


@dataclass(frozen=True)
class WindowRule:
    sql: RuleSql
    error: str  # DOUBLE >= 0: how far `sql.points` may lie from the pure scorer's value ("0" when exact)


def _half_life_sum(c: WindowCompiler, rule: EventRule, flt: str, micros: int | None) -> tuple[str, str]:
    """(sum of 0.5 ** ((t - ts) / h) over the rule's events in its window, error bound)."""
    assert isinstance(rule.decay, HalfLife)
    h = int(rule.decay.half_life) * 1_000_000
    cut = CUT_HALF_LIVES * h
    period = cut if micros is None else min(micros, cut)
    epoch = floor_div(TS, period)
    flag = c.flag(flt)
    # only for the rule's events: power() is the costliest expression of the pass
    exponent = f"CAST({TS} - {epoch} * {period} AS DOUBLE) / {float(h)!r}"
    weight = c.row_column(f"(CASE WHEN {flag} THEN power(CAST(2.0 AS DOUBLE), {exponent}) END)")
    parity = c.row_column(f"({epoch} & 1)")
    sums = [c.aggs.add(f"sum(CASE WHEN {parity} = {p} THEN {weight} END) {c.over(period)}") for p in (0, 1)]
    for p, alias in enumerate(sums):
        c.frames.setdefault(alias, Frame("epoch_sum", weight, period, p, flag, h))
    row_epoch = floor_div(T, period)
    # the factors of the row's own epoch and of the one before, shared by the rules of this half-life
    own = c.derive(f"power(CAST(2.0 AS DOUBLE), -CAST({T} - {row_epoch} * {period} AS DOUBLE) / {float(h)!r})", 0)
    before = c.derive(
        f"power(CAST(2.0 AS DOUBLE), -CAST({T} - ({row_epoch} - 1) * {period} AS DOUBLE) / {float(h)!r})", 0
    )
    row_parity = c.derive(f"({row_epoch} & 1)", 0)
    total = c.derive(
        f"(CASE WHEN {row_parity} = 0 THEN coalesce({sums[0]}, 0.0) * {own} + coalesce({sums[1]}, 0.0) * {before} "
        f"ELSE coalesce({sums[1]}, 0.0) * {own} + coalesce({sums[0]}, 0.0) * {before} END)",
        1,
    )
    n = c.window_agg("count", flt, "1", period)
    error = f"({total} * ({_REL} + {_REL_PER_EVENT} * {n}))"
    whole = None
    if micros is None or micros > cut:
        # events of the window older than the cut: each weighs less than 2 ** -CUT_HALF_LIVES
        whole = c.window_agg("count", flt, "1", micros)
        error = f"({error} + ({whole} - {n}) * {q.double(2.0**-CUT_HALF_LIVES)})"
    c.decay_plan = RulePlan("", "half_life", 0.0, n=n, sums=(sums[0], sums[1]), period=period, half_life=h, old=whole)
    return total, error


def _linear_sum(c: WindowCompiler, rule: EventRule, flt: str, micros: int | None) -> tuple[str, str]:
    """(sum of max(0, 1 - (t - ts) / L) over the rule's events in its window, error bound): the events
    younger than L, n - (n * t - sum of ts) / L with the times summed and multiplied exactly as 128-bit
    integers."""
    assert rule.decay is not None and not isinstance(rule.decay, HalfLife)
    length = int(rule.decay.linear) * 1_000_000
    frame = length if micros is None else min(micros, length)
    n = c.window_agg("count", flt, "1", frame)
    sum_ts = c.window_agg("sum", flt, TS, frame)
    # n * t passes a BIGINT from about 5,000 events (t ~ 1.8e15 micros): multiplied as a HUGEINT (the
    # window's sum of BIGINTs is one already), the difference, the sum of the ages, is exact again
    ages = c.derive(f"(CAST(CAST({n} AS HUGEINT) * {T} - coalesce({sum_ts}, 0) AS DOUBLE) / {float(length)!r})", 0)
    total = c.derive(f"(CAST({n} AS DOUBLE) - {ages})", 1)
    error = f"({q.double(16 * EPS)} * ({n} + 8) * ({n} + {ages}))"
    c.decay_plan = RulePlan("", "linear", 0.0, n=n, sum_ts=sum_ts, linear=length)
    return total, error


def _plan(c: WindowCompiler, plan: RulePlan) -> None:
    if c.rule_plans is not None:
        c.rule_plans.append(plan)


def window_rule(c: WindowCompiler, rule: EventRule | ConditionRule) -> WindowRule:
    """The rule's points at each row's time, as `rule_sql.event_rule` computes them at T."""
    dim = rule.dimension or "score"
    if isinstance(rule, ConditionRule):
        _plan(c, RulePlan(dim, "when", float(rule.points), cond=(rule.when,)))
        return WindowRule(condition_rule(c, rule), "0")
    flt = c.event_filter(rule.on, rule.where, None)
    micros = None if rule.within is None else int(rule.within) * 1_000_000
    token = c.token(flt, rule.within)
    n = c.count(token)
    pts = q.double(rule.points)
    error = "0"
    limit = None if rule.limit is None else float(rule.limit)
    plan = RulePlan(dim, "zero", float(rule.points))
    if token != "FALSE":
        base, frame = c.windowed[token]
        plan = RulePlan(dim, "count", float(rule.points), limit, rule.once, c.window_agg("count", base, "1", frame))
    if token == "FALSE":
        total = ZERO
    elif rule.decay is None:
        total = f"(CASE WHEN {n} > 0 THEN {pts} ELSE {ZERO} END)" if rule.once else f"({pts} * {n})"
    elif rule.once:  # the latest event's factor, computed as the join computes it: exact
        total = f"(CASE WHEN {n} > 0 THEN {pts} * {_factor(rule, c.latest(token), T)} ELSE {ZERO} END)"
        half = isinstance(rule.decay, HalfLife)
        seconds = int(rule.decay.half_life if isinstance(rule.decay, HalfLife) else rule.decay.linear)
        micros_of = seconds * 1_000_000
        plan = RulePlan(dim, "once_decay", float(rule.points), limit, True, plan.n, c.latest(token))
        plan = replace(plan, half_life=micros_of) if half else replace(plan, linear=micros_of)
    else:
        part = _half_life_sum if isinstance(rule.decay, HalfLife) else _linear_sum
        summed, err = part(c, rule, flt, micros)
        total = f"({pts} * {summed})"
        error = f"({q.double(abs(rule.points))} * {err})"
        assert c.decay_plan is not None
        plan = replace(c.decay_plan, dimension=dim, points=float(rule.points), limit=limit)
    _plan(c, plan)
    if rule.limit is not None:
        lim = q.double(rule.limit)
        if error != "0":  # certainly past its limit: the value is the limit itself, exactly
            past = f"{total} - {error} > {lim}" if rule.points >= 0 else f"{total} + {error} < -{lim}"
            error = f"(CASE WHEN {past} THEN {ZERO} ELSE {error} END)"
        total = f"least({total}, {lim})" if rule.points >= 0 else f"greatest({total}, -{lim})"
    return WindowRule(RuleSql(rule.id, rule.dimension or "score", total, n), error)
