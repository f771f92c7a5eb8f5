"""The lifecycle replay's conditions at every event time in one pass, with window functions.

`stage_replay.join_conditions_query` scores a lead at each of its event times by joining that time
with all the lead's events up to it (n^2 / 2 rows for n events). Here every aggregate the model
reads becomes a window function over the lead's events ordered by time, so each event row carries
the aggregate at its own time:

- a rule or condition window `within: D` (T - D < ts <= T) is the frame `RANGE BETWEEN D - 1
  PRECEDING AND CURRENT ROW` over integer micros; RANGE includes the peers at the same instant, as
  "the score at t includes every event at t" requires; without a window the frame starts unbounded;
- counts, sums, min / max, the latest time of matching events, sums of the times (linear decay)
  are window aggregates over the events' filter columns;
- rows of one lead at the same time carry the same values and collapse to one (lead, t) row; one row
  per lead at T is added (no event of its own), so the pass at T reads the same aggregates.

Everything is then scored exactly as the join does (the same rule SQL over the collapsed rows,
`query.score_ctes`), except the two decays whose per-event factor depends on t (a half-life and a
linear decay without `once`): their sums are rewritten (below) into window sums times a factor of
the row's time, which rounds differently from the pure scorer's sum of factors. Those values carry
an error bound, so each automatic condition on a score is three-valued (certainly true, certainly
false, or too close to its threshold to tell); the few (lead, t) rows left undecided are scored by
the join, which is exact. Values without such a decay have no error and compare exactly (a cap of
40 against `gte: 40` decides as the pure scorer does).

Half-life decay: 0.5 ** ((t - ts) / h) = 2 ** ((ts - E) / h) * 2 ** (-(t - E) / h) for an anchor E.
Time is cut into epochs of the frame's length P, each event anchored at the start of its epoch, so
its weight 2 ** ((ts - E) / h) lies in [1, 2 ** (P / h)]; a frame (t - P, t] covers at most the
row's epoch and the one before, whose weights are summed apart (by the epoch's parity) and scaled by
their own anchor. P is at most `CUT_HALF_LIVES` half-lives (no overflow); events older than that
weigh less than 2 ** -CUT_HALF_LIVES of their points, which the error bound covers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import assert_never

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
from leadscore.model.predicates import Predicate
from leadscore.model.spec import ConditionRule, EventRule, HalfLife, ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.columns import SourceSchema
from leadscore.sql.condition_sql import TOTAL, TS, Compiler
from leadscore.sql.lookups import Lookups
from leadscore.sql.query import compiler, event_ctes, score_ctes
from leadscore.sql.rule_sql import RuleSql, _factor, condition_rule
from leadscore.sql.stage_arrays import ArrayPlan, RulePlan, array_plan
from leadscore.sql.stage_bounds import _num_pred
from leadscore.sql.stage_sql import auto_conditions, moving_types, reentries, relevance

T = "_ls_t"
MOVING = "_ls_mv"  # a column of `rows_sql` with `moving`: the event can move a stage on its own
ENTERS = "_ls_en"  # columns k of `rows_sql` with `moving`: the event may bring the lead where condition k is read
# flags k of `rows_sql` with `moving` (read from the type): the event may bring the lead to a stage from which
# only other automatic transitions lead where condition k is read (`stage_sql.reentries`)
RETURNS = "_ls_eq"
PEER_LAST = "_ls_peer_last"
CUT_HALF_LIVES = 256
ZERO = "CAST(0.0 AS DOUBLE)"
# Relative error of a rewritten half-life sum against the pure scorer's: each side rounds an exponent
# of at most 2 * CUT_HALF_LIVES (about 1e-13 once through 2 ** x), plus the sums' roundings per event.
_REL = "CAST(4e-12 AS DOUBLE)"
_REL_PER_EVENT = "CAST(4.5e-16 AS DOUBLE)"
_EPS = 2.0**-52


@dataclass(frozen=True)
class Frame:
    """What one window aggregate computes, for an engine that evaluates it without SQL (`bulk.frame_windows`):
    over the events of the row's lead in the frame (T - micros, T] (from the lead's first event when
    `micros` is None) whose boolean column `flag` holds ("TRUE" / "FALSE" for every / no event):

    - "count": how many; "max_ts": the latest time (NULL for none); "sum_ts": the sum of the times;
    - "epoch_sum": the sum of the DOUBLE column `flag` (NULL: not counted) over the events whose
      epoch, floor(time / micros), has the parity `parity`; NULL for none (`_half_life_sum`). That
      column is 2 ** ((time - the epoch's start) / `half_life`) at the events of the boolean column
      `weighted`, NULL elsewhere: the arrays compute it from the time (`rows_sql` leaves it out).
    """

    kind: str
    flag: str
    micros: int | None
    parity: int = 0
    weighted: str = ""
    half_life: int = 0

    @property
    def reads(self) -> str:
        """The column of `rows_sql` this aggregate reads (an epoch sum: its events' flag, not the weight)."""
        return self.weighted if self.kind == "epoch_sum" else self.flag


@dataclass
class WindowCompiler(Compiler):
    """The scoring compiler with each event aggregate written as a window function at the row's time
    (`T`): the window of a condition or rule is a frame, not part of the per-event filter."""

    windowed: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # token -> (filter, micros)
    row_columns: dict[str, str] = field(default_factory=dict)  # per-event SQL -> its column
    # per-(lead, time) SQL over the window aggregates -> its column, by level (a level reads the ones
    # before): computed once per row where several expressions would repeat it (power(), sums)
    derived: list[dict[str, str]] = field(default_factory=lambda: [{}, {}])
    # aggregate alias -> what it computes, None when only SQL computes it (a property's sum, min, ...)
    frames: dict[str, Frame | None] = field(default_factory=dict)
    # each rule as `window_rule` compiled it, for the arrays (`stage_arrays`); None once one has no plan
    rule_plans: list[RulePlan] | None = field(default_factory=list)
    decay_plan: RulePlan | None = None  # what the last decayed sum read
    type_only: dict[str, tuple[str, ...]] = field(default_factory=dict)  # filter SQL -> its types, without `where:`

    def event_filter(self, types: Sequence[str], where: Mapping[str, Predicate], within: int | None) -> str:
        sql = super().event_filter(types, where, within)
        if not where and within is None:
            self.type_only[sql] = tuple(types)
        return sql

    def token(self, flt: str, within_s: int | None) -> str:
        """A name standing for (filter, window) where the base compiler passes a filter string."""
        if flt == "FALSE":
            return "FALSE"
        micros = None if within_s is None else int(within_s) * 1_000_000
        for name, value in self.windowed.items():
            if value == (flt, micros):
                return name
        name = f"_ls_wtok{len(self.windowed)}"
        self.windowed[name] = (flt, micros)
        return name

    def events_of(self, cond: EventCondition) -> str:
        return self.token(self.event_filter(cond.types, cond.where, None), cond.window)

    def row_column(self, sql: str) -> str:
        name = self.row_columns.get(sql)
        if name is None:
            name = self.row_columns[sql] = f"_ls_rc{len(self.row_columns)}"
        return name

    def derive(self, sql: str, level: int) -> str:
        for cols in self.derived:
            if sql in cols:
                return cols[sql]
        name = self.derived[level][sql] = f"_ls_dv{sum(len(d) for d in self.derived)}"
        return name

    def over(self, micros: int | None) -> str:
        start = "UNBOUNDED" if micros is None else str(micros - 1)
        return f"OVER (PARTITION BY lead_id ORDER BY {TS} RANGE BETWEEN {start} PRECEDING AND CURRENT ROW)"

    def window_agg(self, fn: str, flt: str, value: str, micros: int | None) -> str:
        """`fn(value)` over the events of `flt` in the frame of `micros` ending at the row's time."""
        flag = self.flag(flt)
        alias = self.aggs.add(f"{fn}(CASE WHEN {flag} THEN {value} END) {self.over(micros)}")
        kind = {("count", "1"): "count", ("max", TS): "max_ts", ("sum", TS): "sum_ts"}.get((fn, value))
        self.frames.setdefault(alias, None if kind is None else Frame(kind, flag, micros))
        return alias

    def count(self, flt: str) -> str:
        if flt == "FALSE":
            return "0"
        base, micros = self.windowed[flt]
        return f"coalesce({self.window_agg('count', base, '1', micros)}, 0)"

    def latest(self, flt: str) -> str:
        if flt == "FALSE":
            return "CAST(NULL AS BIGINT)"
        base, micros = self.windowed[flt]
        return self.window_agg("max", base, TS, micros)

    def _aggregate(self, cond: AggregateCondition) -> str:
        token = self.events_of(cond)
        slot = next((s.column for s in self.schema.events.of(cond.property) if s.kind == "num"), None)
        fn = cond.function
        if slot is None or token == "FALSE":
            return ZERO if fn == "sum" else "CAST(NULL AS DOUBLE)"
        base, micros = self.windowed[token]
        col = q.ident(slot)
        flt = q.all_of([base, f"{col} IS NOT NULL"])
        as_double = self.row_column(f"CAST({col} AS DOUBLE)")
        if fn == "sum":
            return f"coalesce({self.window_agg(self.sum_agg, flt, as_double, micros)}, 0.0)"
        if fn == "avg":
            total = self.window_agg(self.sum_agg, flt, as_double, micros)
            n = self.window_agg("count", flt, "1", micros)
            return f"(CASE WHEN {n} > 0 THEN {total} / {n} END)"
        return self.window_agg(fn, flt, self.row_column(col), micros)


def _floor_div(x: str, d: int) -> str:
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
    epoch = _floor_div(TS, period)
    flag = c.flag(flt)
    # only for the rule's events: power() is the costliest expression of the pass
    exponent = f"CAST({TS} - {epoch} * {period} AS DOUBLE) / {float(h)!r}"
    weight = c.row_column(f"(CASE WHEN {flag} THEN power(CAST(2.0 AS DOUBLE), {exponent}) END)")
    parity = c.row_column(f"({epoch} & 1)")
    sums = [c.aggs.add(f"sum(CASE WHEN {parity} = {p} THEN {weight} END) {c.over(period)}") for p in (0, 1)]
    for p, alias in enumerate(sums):
        c.frames.setdefault(alias, Frame("epoch_sum", weight, period, p, flag, h))
    row_epoch = _floor_div(T, period)
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
    error = f"({q.double(16 * _EPS)} * ({n} + 8) * ({n} + {ages}))"
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


def _tri(c: WindowCompiler, cond: Condition, errors: dict[str, str]) -> tuple[str, str]:
    """(certainly true, certainly false) of a condition whose scores are known within their error."""
    match cond:
        case ScoreCondition():
            exact = c.condition(cond)
            column = TOTAL if cond.score == "total" else c.dimension_columns[cond.score]
            err = errors[cond.score]
            if err == "0":
                return exact, q.negate(exact)
            m = _num_pred(cond, f"({column} - {err})", f"({column} + {err})")
            sure = f"(CASE WHEN {err} = 0 THEN {exact} ELSE {q.negate(m.may_fail)} END)"
            never = f"(CASE WHEN {err} = 0 THEN {q.negate(exact)} ELSE {q.negate(m.may_hold)} END)"
            return sure, never
        case AllCondition():
            parts = [_tri(c, x, errors) for x in cond.all]
            return q.all_of([t for t, _ in parts]), q.any_of([f for _, f in parts])
        case AnyCondition():
            parts = [_tri(c, x, errors) for x in cond.any]
            return q.any_of([t for t, _ in parts]), q.all_of([f for _, f in parts])
        case NotCondition():
            sure, never = _tri(c, cond.not_, errors)
            return never, sure
        case (
            AttributeCondition()
            | CountCondition()
            | AggregateCondition()
            | NoneCondition()
            | LastCondition()
            | LabelCondition()
            | StageCondition()
        ):
            exact = f"coalesce({c.condition(cond)}, FALSE)"
            return exact, q.negate(exact)
        case _:
            assert_never(cond)


@dataclass(frozen=True)
class WindowQuery:
    sql: str  # (lead_id, _ls_t, _ls_c0..): NULL where the condition is too close to its threshold
    exact: bool  # no condition can be undecided (no rewritten decay reaches a score condition)
    # the events (with the T rows) with the columns `frames` read: lead_id, _ls_ts, then each flag
    # and value column they name
    rows_sql: str = ""
    # each window aggregate's alias -> what it computes; None when some aggregate needs SQL
    frames: dict[str, Frame] | None = None
    # (lead_id, _ls_t, each alias) from the window operator, one row per (lead, time): what `frames` give
    aggregates_sql: str = ""
    # the conditions as arrays compute them from the aggregates of `frames` (`bulk.frame_scores`)
    arrays: ArrayPlan | None = None
    # the flags `rows_sql` leaves out, each true at the events of its types (its column `type`)
    types: dict[str, tuple[str, ...]] = field(default_factory=dict)


def window_conditions_query(
    model: ScoringModel,
    schema: SourceSchema,
    at: int,
    ids: str,
    *,
    dedupe: bool,
    dups_table: str | None,
    lookups: Lookups | None = None,
    null_ids: bool = True,
    aggregates: str | None = None,
    moving: bool = False,
) -> WindowQuery:
    """Each automatic transition's condition at each event time up to `at` and at `at`, for the leads
    listed in the table `ids`, as `stage_replay.join_conditions_query` gives them, except NULL where a
    rewritten decay leaves a score condition undecided. With `aggregates`, the window aggregates are
    read from that table (lead_id, _ls_t, _ls_peer_last and each alias of `frames`, computed from
    `rows_sql` by `bulk.frames`) instead of computed by the window operator. With `moving`, `rows_sql`
    also has the column MOVING."""
    base = compiler(model, schema, T, "duckdb", lookups)
    c = WindowCompiler(**{f.name: getattr(base, f.name) for f in fields(base)})
    rules = [window_rule(c, r) for r in model.rules]
    dims = model.dimension_names()
    errors: dict[str, str] = {}
    for j, d in enumerate(dims):
        own = [r.error for r in rules if r.sql.dimension == d and r.error != "0"]
        if not own:
            errors[d] = "0"
            continue
        # the dimension's own sum rounds once more (relative 2 ** -52 at most, fsum)
        err = f"(({' + '.join(own)}) * (1.0 + {_EPS!r}) + {_EPS!r} * abs(_ls_raw{j}))"
        spec = model.dimension_spec(d)
        clamped = []  # certainly past a bound: the dimension is the bound itself, exactly
        if spec.cap is not None:
            clamped.append(f"_ls_raw{j} - {err} > {q.double(spec.cap)}")
        if spec.floor is not None:
            clamped.append(f"_ls_raw{j} + {err} < {q.double(spec.floor)}")
        errors[d] = f"(CASE WHEN {q.any_of(clamped)} THEN {ZERO} ELSE {err} END)" if clamped else err
    if any(e != "0" for e in errors.values()):
        total_err = " + ".join(f"_ls_de{j}" for j, d in enumerate(dims) if errors[d] != "0")
        errors["total"] = f"(({total_err}) * (1.0 + {_EPS!r}) + {_EPS!r} * abs({TOTAL}))"
    else:
        errors["total"] = "0"
    columns = {d: f"_ls_de{j}" if errors[d] != "0" else "0" for j, d in enumerate(dims)}
    columns["total"] = "_ls_te" if errors["total"] != "0" else "0"
    conds = []
    for k, cond in enumerate(auto_conditions(model)):
        sure, never = _tri(c, cond, columns)
        conds.append(f"(CASE WHEN {sure} THEN TRUE WHEN {never} THEN FALSE END) AS _ls_c{k}")
    exact = all(e == "0" for e in errors.values())
    arrays = array_plan(c, model, auto_conditions(model))

    ctes, source = event_ctes(schema, "duckdb", dedupe, dups_table, ids, null_ids)
    # one row per lead at T without an event of its own: its type is NULL, so no filter keeps it
    ctes.append(
        f"_ls_wev AS (SELECT * FROM {source} WHERE {TS} <= {at} "
        f"UNION ALL BY NAME SELECT lead_id, CAST({at} AS BIGINT) AS {TS} FROM {ids})"
    )
    # the window operator sorts and keeps every column it is given: only the time, the filters and the
    # per-event values the windows read go in (not the events' property columns)
    ctes.append(f"_ls_wf AS (SELECT *{c.flag_columns()} FROM _ls_wev)")
    kept = ["lead_id", TS, "type", *c.flags.values(), *(f"{sql} AS {name}" for sql, name in c.row_columns.items())]
    extra = []
    if moving and model.lifecycle is not None:
        # whether the event has a transition of its own (or is a `stage_set`): `bulk.frames` drops the
        # (lead, time) rows that cannot move a stage before it makes the table (`lifecycle_walk.drop_idle`)
        extra.append(MOVING)
        kept.append(f"coalesce(type IN {q.text_list(moving_types(model.lifecycle))}, FALSE) AS {MOVING}")
        # whether the event may bring the lead to a source of each automatic transition (`relevance`)
        for k, (_, types) in enumerate(relevance(model.lifecycle)):
            extra.append(f"{ENTERS}{k}")
            kept.append(
                f"coalesce(type IN {q.text_list(sorted(types))}, FALSE) AS {ENTERS}{k}"
                if types
                else f"FALSE AS {ENTERS}{k}"
            )
    ctes.append(f"_ls_wr AS (SELECT {', '.join(kept)} FROM _ls_wf)")
    frames = {a: f for a, f in c.frames.items() if f is not None}
    supported = len(frames) == len(c.aggs.exprs)
    # the weights of the epoch sums are not read: one power() per event and half-life in NumPy costs less
    # than DuckDB's one per rule, and than moving a DOUBLE column per rule (`frame_rows.Rows.weights`)
    read = sorted({f.reads for f in frames.values()} - {"TRUE", "FALSE"})
    # a flag of the event's type alone is read from the type (`frame_rows.Packed`): one text column out
    # of DuckDB instead of a BOOLEAN per flag, each an equality per row (0.06 of 0.11 CPU s a part)
    typed = {name: c.type_only[sql] for sql, name in c.flags.items() if sql in c.type_only and name in read}
    if moving and model.lifecycle is not None:
        typed[MOVING] = tuple(moving_types(model.lifecycle))
        typed.update({f"{ENTERS}{k}": tuple(sorted(t)) for k, (_, t) in enumerate(relevance(model.lifecycle))})
        typed.update(
            {f"{RETURNS}{k}": tuple(sorted(r[1])) for k, r in enumerate(reentries(model.lifecycle)) if r and r[1]}
        )
    picked = [name for name in [*read, *extra] if name not in typed]
    if typed:
        picked.insert(0, "type")
    rows_sql = "WITH " + ",\n".join(ctes) + f"\nSELECT {', '.join(['lead_id', TS, *picked])} FROM _ls_wr"
    if aggregates is not None:
        ctes = [f"_ls_wa AS (SELECT * FROM {aggregates})"]
    else:
        # the last row of each instant stands for all its peers (RANGE frames give them equal values)
        last = f"{TS} IS DISTINCT FROM lead({TS}) OVER (PARTITION BY lead_id ORDER BY {TS})"
        windows = [f"{sql} AS {alias}" for sql, alias in c.aggs.exprs.items()]
        aggs = ", ".join(["lead_id", f"{TS} AS {T}", f"{last} AS {PEER_LAST}", *windows])
        ctes.append(f"_ls_wa AS (SELECT {aggs} FROM _ls_wr)")
    aggregates_sql = "WITH " + ",\n".join(ctes) + f"\nSELECT * EXCLUDE ({PEER_LAST}) FROM _ls_wa WHERE {PEER_LAST}"
    ctes.append(
        f"_ls_base AS (SELECT a.lead_id AS _ls_id, l.*, a.* EXCLUDE (lead_id, {PEER_LAST}) FROM _ls_wa AS a "
        f"LEFT JOIN leads AS l ON l.id = a.lead_id WHERE a.{PEER_LAST})"
    )
    source = "_ls_base"
    for level, level_cols in enumerate(c.derived):
        if level_cols:
            derived = ", ".join(f"{sql} AS {name}" for sql, name in level_cols.items())
            ctes.append(f"_ls_dl{level} AS (SELECT *, {derived} FROM {source})")
            source = f"_ls_dl{level}"
    ctes += score_ctes(model, [r.sql for r in rules], "duckdb", source)
    errs = [f"{errors[d]} AS _ls_de{j}" for j, d in enumerate(dims) if errors[d] != "0"]
    last_cte = "_ls_dims"
    if errs:
        ctes.append(f"_ls_derr AS (SELECT *, {', '.join(errs)} FROM _ls_dims)")
        ctes.append(f"_ls_terr AS (SELECT *, {errors['total']} AS _ls_te FROM _ls_derr)")
        last_cte = "_ls_terr"
    cols = ", ".join(["_ls_id AS lead_id", T, *conds])
    sql = "WITH " + ",\n".join(ctes) + f"\nSELECT {cols} FROM {last_cte}"
    if not supported:
        return WindowQuery(sql, exact, rows_sql, None, aggregates_sql, types=typed)
    return WindowQuery(sql, exact, rows_sql, frames, aggregates_sql, arrays, typed)
