"""Predicates SQL cannot state exactly, evaluated by the pure scorer's own code over distinct values.

A regular expression outside the subset every engine reads alike, or `contains` with a non-ASCII
needle (case folding differs between engines), used to send every lead to the pure scorer. Their
answer depends on one text value only, so the engine asks the pure scorer's compiled predicate
(`engine.values.compile_predicate`) about each *distinct* value of the column once and joins the
answer back: in DuckDB a table of the matching values read by `IN (SELECT ...)`, in Spark a pandas
UDF that evaluates each batch's distinct values. Exact by construction, and the cost is one pass over
the column plus one Python call per distinct value, whatever the number of leads.

Values whose domain the model itself fixes (label names, stage names) are decided at compile time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from leadscore.engine.values import compile_predicate
from leadscore.model.predicates import PredicateFields
from leadscore.sql import literals as q

if TYPE_CHECKING:
    import duckdb

LookupFlavor = Literal["duckdb", "spark"]
TextTest = Callable[[str], bool]
# Distinct values are evaluated and shipped in slices: memory stays bounded for a free-text column.
SLICE = 200_000
# A look-up with at most this many matching values is written into the query as a list of literals
# (none: FALSE): DuckDB then compares in place instead of joining every row against a table.
INLINE = 16


# Patterns made only of constructs that Python's re, RE2 and Java read alike: literal ASCII text,
# escaped punctuation, classes, groups without `(?`, alternation and repetition; no `$` (Python's
# also matches before a final newline), no POSIX classes, no escapes like \w or \b.
_PORTABLE = re.compile(r"^(?:[^\\($]|\\[.^*+?()\[\]{}|\\/-]|\((?!\?))*$")


def portable_regex(pattern: str) -> bool:
    return pattern.isascii() and "[:" not in pattern and _PORTABLE.match(pattern) is not None


def text_test(key: str, arg: Any) -> TextTest:
    """The pure scorer's test for one predicate, applied to a present text value."""
    test = compile_predicate(PredicateFields.model_validate({key: arg}))
    return lambda v: bool(test(v))


def matching(key: str, arg: Any, values: Iterable[str]) -> list[str]:
    """The values of `values` for which the predicate holds (in the pure scorer's semantics)."""
    test = text_test(key, arg)
    return [v for v in values if test(v)]


@dataclass(frozen=True)
class Lookup:
    name: str  # table (DuckDB) or function (Spark) name
    table: str  # `events` or `leads`
    column: str  # the text column, as an SQL expression (a quoted name)
    key: str  # `matches` or `contains`
    arg: Any
    only: str | None = None  # the values that need the pure scorer (the others have exact SQL)


@dataclass
class Lookups:
    """The lookups a query needs, registered while it is compiled and filled before it runs."""

    flavor: LookupFlavor = "duckdb"
    entries: dict[tuple[str, str, str, str], Lookup] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    values_tested: int = 0  # distinct values the pure scorer's predicate looked at (statistics)
    few: dict[str, list[str]] = field(default_factory=dict)  # filled tables of at most INLINE values

    def add(self, table: str, column: str, key: str, arg: Any) -> str:
        """SQL for `column <key> arg` over a row of `table` (NULL-safe: FALSE for a missing value);
        `column` is the quoted name of a text column of `table`."""
        k = (table, column, key, repr(arg))
        col = column
        if self.flavor == "duckdb" and key == "matches" and portable_regex(str(arg)):
            # DuckDB's regexp (RE2) reads these patterns as the pure scorer does, row by row in
            # parallel: cheaper than a look-up over a column of many distinct values (URLs)
            return f"coalesce(regexp_matches({col}, {q.text(str(arg))}), FALSE)"
        # ASCII text lowers alike everywhere: only values with other characters need Python
        ascii_contains = self.flavor == "duckdb" and key == "contains" and str(arg).isascii()
        only = f"strlen({col}) <> length({col})" if ascii_contains else None
        found = self.entries.get(k)
        if found is None:
            found = self.entries[k] = Lookup(f"_ls_m{len(self.entries)}", table, column, key, arg, only)
        if self.flavor == "spark":
            return f"coalesce({found.name}({col}), FALSE)"
        listed = f"{col} IN (SELECT v FROM {found.name})"
        if ascii_contains:
            needle = q.text(str(arg).lower())
            ascii_test = f"strpos(lower({col}), {needle}) > 0"
            return f"coalesce(CASE WHEN strlen({col}) = length({col}) THEN {ascii_test} ELSE {listed} END, FALSE)"
        return f"coalesce({listed}, FALSE)"

    def fill_duckdb(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the table of matching values of every lookup not yet filled."""
        import pyarrow as pa

        for lk in self.entries.values():
            if lk.name in self.done:
                continue
            test = text_test(lk.key, lk.arg)
            col = lk.column
            values = con.sql(
                f"SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM {lk.table} WHERE {col} IS NOT NULL"
                + (f" AND {lk.only}" if lk.only else "")
            ).to_arrow_table()
            self.values_tested += values.num_rows
            # the distinct values stay in Arrow; Python sees a slice of them at a time
            mask: list[bool] = []
            for batch in values.to_batches(SLICE):
                mask.extend(test(v) for v in batch.column(0).to_pylist())
            hits = values.filter(pa.array(mask, pa.bool_())) if values.num_rows else values
            if hits.num_rows <= INLINE:
                self.few[lk.name] = [str(v) for v in hits.column(0).to_pylist()]
            con.register("_ls_m_hits", hits)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {lk.name} AS SELECT v FROM _ls_m_hits")
            con.unregister("_ls_m_hits")
            self.done.add(lk.name)

    def inline(self, sql: str) -> str:
        """`sql` with each filled look-up of few values written in place: `x IN ('a', 'b')`, or
        `x IN (NULL)` (never TRUE; the look-ups are read through coalesce(..., FALSE)) for none."""
        for name, values in self.few.items():
            listed = q.text_list(values) if values else "(NULL)"
            sql = sql.replace(f" IN (SELECT v FROM {name})", f" IN {listed}")
        return sql

    def register_spark(self, spark: Any) -> None:
        """Register each lookup as a pandas UDF (text -> boolean) under its name."""
        from pyspark.sql import functions
        from pyspark.sql.types import BooleanType

        make: Any = functions.pandas_udf  # its overloads do not cover a plain series -> series function
        for lk in self.entries.values():
            if lk.name in self.done:
                continue
            spark.udf.register(lk.name, make(_series_test(lk.key, lk.arg), BooleanType()))
            self.done.add(lk.name)


def _series_test(key: str, arg: Any) -> Callable[[Any], Any]:
    """A pandas-series predicate for Spark's executors: each batch's distinct values tested once."""

    def run(values: Any) -> Any:
        test = text_test(key, arg)
        present = values.dropna().unique()
        hits = {v for v in present if isinstance(v, str) and test(v)}
        return values.isin(hits)

    import pandas as pd

    # Spark picks the UDF's kind (series -> series) from the annotations, as classes
    run.__annotations__ = {"values": pd.Series, "return": pd.Series}
    return run


def finite_domain(key: str, arg: Any, domain: Iterable[str], expr: str) -> str:
    """A text predicate over a column that only holds values of `domain` (labels, stages)."""
    hits = matching(key, arg, sorted(set(domain)))
    if not hits:
        return "FALSE"
    return f"coalesce({expr} IN {q.text_list(hits)}, FALSE)"
