"""The scoring compiler of the one-pass lifecycle replay (`stage_windows`): every event aggregate a
model reads written as a window function over the lead's events ordered by time, so each event row
carries the aggregate at its own time, and what each aggregate computes (`Frame`) for the engines
that evaluate it without SQL (`bulk.frame_windows`).

A rule or condition window `within: D` (T - D < ts <= T) is the frame `RANGE BETWEEN D - 1 PRECEDING
AND CURRENT ROW` over integer micros; RANGE includes the peers at the same instant, as "the score at t
includes every event at t" requires; without a window the frame starts unbounded. Apart from the
query that assembles the pass: the rules (`window_rules`) and the conditions (`window_errors`) are
written with it, and the arrays read what it records (`stage_arrays`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from leadscore.model.conditions import AggregateCondition, EventCondition
from leadscore.model.predicates import Predicate
from leadscore.sql import literals as q
from leadscore.sql.condition_sql import TS, Compiler
from leadscore.sql.stage_arrays import RulePlan

T = "_ls_t"
ZERO = "CAST(0.0 AS DOUBLE)"


@dataclass(frozen=True)
class Frame:
    """What one window aggregate computes, for an engine that evaluates it without SQL (`bulk.frame_windows`):
    over the events of the row's lead in the frame (T - micros, T] (from the lead's first event when
    `micros` is None) whose boolean column `flag` holds ("TRUE" / "FALSE" for every / no event):

    - "count": how many; "max_ts": the latest time (NULL for none); "sum_ts": the sum of the times;
    - "epoch_sum": the sum of the DOUBLE column `flag` (NULL: not counted) over the events whose
      epoch, floor(time / micros), has the parity `parity`; NULL for none (`window_rules._half_life_sum`).
      That column is 2 ** ((time - the epoch's start) / `half_life`) at the events of the boolean column
      `weighted`, NULL elsewhere: the arrays compute it from the time (`stage_windows.rows_sql` leaves
      it out).
    """

    kind: str
    flag: str
    micros: int | None
    parity: int = 0
    weighted: str = ""
    half_life: int = 0

    @property
    def reads(self) -> str:
        """The column of `stage_windows.rows_sql` this aggregate reads (an epoch sum: its events' flag, not
        the weight)."""
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
    # each rule as `window_rules.window_rule` compiled it, for the arrays (`stage_arrays`); None once one
    # has no plan
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
