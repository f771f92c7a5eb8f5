"""Conditions and event filters as SQL over one row per lead.

Conditions on events (count, sum/min/max/avg, none, last) become aggregates of the single GROUP BY
over the events (`Aggregates`); the condition itself is then an expression over the lead's row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
from leadscore.sql import literals as q
from leadscore.sql.columns import SourceSchema
from leadscore.sql.lookups import Lookups, finite_domain
from leadscore.sql.predicate_sql import NotExpressible, TextLookup, TypedExpr, predicate_sql

TS = "_ls_ts"
ORD = "_ls_ord"
STAGE = "_ls_stage"
TOTAL = "_ls_total"


@dataclass
class Aggregates:
    """The aggregate columns of the events GROUP BY, shared by every rule and condition that needs one."""

    exprs: dict[str, str] = field(default_factory=dict)  # SQL -> alias

    def add(self, sql: str) -> str:
        alias = self.exprs.get(sql)
        if alias is None:
            alias = self.exprs[sql] = f"_ls_a{len(self.exprs)}"
        return alias


@dataclass
class Compiler:
    schema: SourceSchema
    at: int | str  # epoch micros, or a BIGINT column holding each row's own evaluation time
    dimension_columns: Mapping[str, str] = field(default_factory=dict)
    label_columns: Mapping[str, str] = field(default_factory=dict)
    aggs: Aggregates = field(default_factory=Aggregates)
    sum_agg: str = "fsum"
    # count_if(b) instead of count(*) FILTER (WHERE b): cheaper when a lead's events are next to each other
    # in the input, dearer when they are spread (batch/duckdb/layout.py)
    count_if: bool = False
    flags: dict[str, str] = field(default_factory=dict)  # event filter SQL -> its boolean column
    # decay factor SQL -> (its column, the flags of the events that need it)
    factors: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    # text predicates without exact SQL, evaluated by the pure scorer per distinct value (`lookups`)
    lookups: Lookups | None = None
    label_values: Mapping[str, Sequence[str]] = field(default_factory=dict)  # the labels a set can take
    stage_values: Sequence[str] = ()
    # an event's type among several as `type = 'a' OR type = 'b'` rather than `type IN ('a', 'b')` (DuckDB):
    # DuckDB tests each equality on a dictionary page's entries, and turns a long IN list into a join per
    # row; over 50M events, 13 types cost 0.67 CPU s as equalities against 1.4 as IN
    types_as_or: bool = False

    def _lookup(self, table: str, types: Sequence[str] | None = None) -> TextLookup | None:
        lookups = self.lookups
        if lookups is None:
            return None
        return lambda expr, key, arg: lookups.add(table, expr, key, arg, types)

    def _domain(self, values: Sequence[str]) -> TextLookup:
        return lambda expr, key, arg: finite_domain(key, arg, values, expr)

    def flag(self, flt: str) -> str:
        """The filter as a boolean column computed once per event before the GROUP BY (`flag_columns`).

        Rules share filters (a count, a decayed sum and a latest time over the same events), and an
        engine evaluates a FILTER clause once per aggregate: string comparisons over tens of millions
        of events, repeated, were most of the query's time."""
        if flt in ("TRUE", "FALSE"):
            return flt
        name = self.flags.get(flt)
        if name is None:
            name = self.flags[flt] = f"_ls_f{len(self.flags)}"
        return name

    def flag_columns(self, within: str | None = None) -> str:
        """`, <filter> AS _ls_f0, ...` for the SELECT that feeds the GROUP BY ('' without filters); with
        `within` (a BOOLEAN column), each filter also requires it."""
        if within is not None:
            return "".join(f", ({sql}) AND {within} AS {name}" for sql, name in self.flags.items())
        return "".join(f", {sql} AS {name}" for sql, name in self.flags.items())

    def factor(self, sql: str, flag: str) -> str:
        """A decay factor as a column computed once per event (rules with the same decay share it),
        and only for the events some of those rules match: power() is the costliest expression."""
        entry = self.factors.get(sql)
        if entry is None:
            entry = self.factors[sql] = (f"_ls_x{len(self.factors)}", [])
        if flag not in entry[1]:
            entry[1].append(flag)
        return entry[0]

    def factor_columns(self) -> str:
        """`, CASE WHEN <flags> THEN <factor> END AS _ls_x0, ...` over a relation that has the flags."""
        cols = [f", (CASE WHEN {' OR '.join(fl)} THEN {sql} END) AS {col}" for sql, (col, fl) in self.factors.items()]
        return "".join(cols)

    def _kept_agg(self, fn: str, value: str, flag: str) -> str:
        """`fn` over `value` on the rows `flag` keeps. As the counts (`_count_agg`): clustered, the
        value nulled by CASE where the flag fails (the aggregates skip NULLs: the same result) costs
        less than the FILTER's selection per aggregate and chunk (the b2b example's part of 10,000
        leads x 50 events: its two `last` conditions' max() took the aggregation from about 0.32 to
        0.29 CPU s, one thread); spread, the FILTER touches fewer states."""
        if self.count_if:
            return f"{fn}(CASE WHEN {flag} THEN {value} END)"
        return f"{fn}({value}) FILTER (WHERE {flag})"

    def _count_agg(self, flt: str) -> str:
        f = self.flag(flt)
        if f == "TRUE":
            return "count(*)"
        return f"count_if({f})" if self.count_if else f"count(*) FILTER (WHERE {f})"

    # -- events ------------------------------------------------------------------------------------
    def property_value(self, name: str) -> list[TypedExpr]:
        return [(q.ident(s.column), s.kind) for s in self.schema.events.of(name)]

    def where_sql(self, where: Mapping[str, Predicate], types: Sequence[str] | None = None) -> str:
        """The property filters over an event row; `types`: the only types of the rows they are read on."""
        lookup = self._lookup("events", types)
        return q.all_of([predicate_sql(pred, self.property_value(prop), lookup) for prop, pred in where.items()])

    def event_filter(self, types: Sequence[str], where: Mapping[str, Predicate], within: int | None) -> str:
        if len(types) == 1:
            parts = [f"type = {q.text(types[0])}"]
        elif self.types_as_or:
            parts = ["(" + " OR ".join(f"type = {q.text(t)}" for t in types) + ")"]
        else:
            parts = [f"type IN {q.text_list(types)}"]
        if within is not None:
            parts.append(f"{TS} > {self.ago(int(within))}")
        cheap = q.all_of(parts)
        props = self.where_sql(where, types)
        if props in ("TRUE", "FALSE") or cheap == "FALSE":
            return q.all_of([cheap, props])
        # CASE, not AND: an engine evaluates every operand of AND over every row of a projection, and
        # the property tests (regular expressions, lower()) cost far more than the type and the window,
        # which most events fail; CASE computes them on the rows its condition keeps. (The predicates
        # are NULL-safe, so both forms give the same answer.)
        return f"(CASE WHEN {cheap} THEN {props} ELSE FALSE END)"

    def events_of(self, cond: EventCondition) -> str:
        """The filter of the events an event condition reads: its types, its `where:`, its window."""
        return self.event_filter(cond.types, cond.where, cond.window)

    def ago(self, seconds: int) -> str:
        """The instant `seconds` before the evaluation time, in epoch micros."""
        if isinstance(self.at, int):
            return str(self.at - seconds * 1_000_000)
        return f"({self.at} - {seconds * 1_000_000})"

    def count(self, flt: str) -> str:
        if flt == "FALSE":
            return "0"
        return f"coalesce({self.aggs.add(self._count_agg(flt))}, 0)"

    def latest(self, flt: str) -> str:
        if flt == "FALSE":
            return "CAST(NULL AS BIGINT)"
        return self.aggs.add(self._kept_agg("max", TS, self.flag(flt)))

    # -- leads -------------------------------------------------------------------------------------
    def attribute_value(self, name: str) -> list[TypedExpr]:
        return [(q.ident(s.column), s.kind) for s in self.schema.leads.of(name)]

    def condition(self, cond: Condition) -> str:
        """The SQL engines' handler of every condition kind: a BOOLEAN over the lead's row."""
        match cond:
            case AttributeCondition():
                return predicate_sql(cond, self.attribute_value(cond.attribute), self._lookup("leads"))
            case CountCondition():
                return predicate_sql(cond, [(self.count(self.events_of(cond)), "num")])
            case AggregateCondition():
                return predicate_sql(cond, [(self._aggregate(cond), "num")])
            case NoneCondition():
                return f"({self.count(self.events_of(cond))} = 0)"
            case LastCondition():
                latest = self.latest(self.events_of(cond))
                parts = [f"{latest} IS NOT NULL"]
                if cond.older_than is not None:
                    parts.append(f"{latest} <= {self.ago(int(cond.older_than))}")
                if cond.newer_than is not None:
                    parts.append(f"{latest} > {self.ago(int(cond.newer_than))}")
                return f"coalesce({q.all_of(parts)}, FALSE)"
            case ScoreCondition():
                column = TOTAL if cond.score == "total" else self.dimension_columns.get(cond.score)
                if column is None:
                    raise NotExpressible(f"unknown dimension {cond.score!r}")
                return predicate_sql(cond, [(column, "num")])
            case LabelCondition():
                values = self.label_values.get(cond.label, ())
                return predicate_sql(cond, [(self.label_columns[cond.label], "str")], self._domain(values))
            case StageCondition():
                return predicate_sql(cond.stage, [(STAGE, "str")], self._domain(self.stage_values))
            case AllCondition():
                return q.all_of([self.condition(c) for c in cond.all])
            case AnyCondition():
                return q.any_of([self.condition(c) for c in cond.any])
            case NotCondition():
                return q.negate(self.condition(cond.not_))
            case _:
                assert_never(cond)

    def _aggregate(self, cond: AggregateCondition) -> str:
        flt = self.events_of(cond)
        slot = next((s.column for s in self.schema.events.of(cond.property) if s.kind == "num"), None)
        fn = cond.function
        if slot is None or flt == "FALSE":
            return "CAST(0.0 AS DOUBLE)" if fn == "sum" else "CAST(NULL AS DOUBLE)"
        col = q.ident(slot)
        flt = q.all_of([flt, f"{col} IS NOT NULL"])
        f = self.flag(flt)
        if fn == "sum":
            return f"coalesce({self.aggs.add(self._kept_agg(self.sum_agg, f'CAST({col} AS DOUBLE)', f))}, 0.0)"
        if fn == "avg":
            total = self.aggs.add(self._kept_agg(self.sum_agg, f"CAST({col} AS DOUBLE)", f))
            n = self.aggs.add(self._count_agg(flt))
            return f"(CASE WHEN {n} > 0 THEN {total} / {n} END)"
        return self.aggs.add(self._kept_agg(fn, col, f))
