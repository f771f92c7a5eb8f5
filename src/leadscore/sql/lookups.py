"""Text predicates (`matches`, `contains`) in SQL with the pure scorer's answer, value by value.

DuckDB: `regexp_matches` is RE2, the engine the pure scorer uses for `matches` (`model.regex`), so a
pattern runs in DuckDB as written (`(?i)`, `\\b`, `$` mean the same in both). Only what the two RE2
builds may read differently (their Unicode tables: `\\p` classes, a non-ASCII pattern; or a syntax
the older build lacks) takes the look-up below. `contains` is `lower(value)` containing the lowered
needle: DuckDB's lower() equals Python's str.lower() on every character but two (LOWER_DIFFERS), so
only values holding one of those take the look-up, and only for needles those two can affect: a needle
without "i" or a sigma never does (`_exact_contains`); one with an "i" only where DuckDB finds it in a
value holding "İ" (`_dotless`). On the mixed benchmark's events that spares two more tests of the text
on every row of the rule's types.

The look-up asks the pure scorer's compiled predicate (`engine.values.compile_predicate`) about each
*distinct* value once and joins the answer back: in DuckDB a table of the matching values read by
`IN (SELECT ...)` (or a list written into the query when few match), in Spark a pandas UDF that
evaluates each batch's distinct values (Java's regex is not RE2: every pattern takes it there).

A look-up over the events' `contains` is *deferred* when the caller asks (`defer_events`): the query
runs first as if no value needed it, and tells per lead whether one of its events held such a value
(`risk_sql`); only then are those values evaluated and those leads scored again. On the usual data
no value does, and the look-up costs no pass over the events. On a column the caller names `eager`
(dictionary-encoded in Parquet files, where the look-up's scan tests each distinct value once) the
look-up is made before the query instead: that scan costs less than the per-row test of the risk.

Values whose domain the model itself fixes (label names, stage names) are decided at compile time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
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


# The characters whose lower case differs between Python's str.lower() and DuckDB's lower(): Python
# lowers U+0130 (capital I with dot) to "i" plus a combining dot, DuckDB to "i"; and a capital sigma
# at the end of a word to a final sigma. Every other code point lowers alike (tests/sql/test_lookups.py
# checks all of them against the installed DuckDB).
LOWER_DIFFERS = ("\u0130", "\u03a3")
# Escapes whose meaning rests on a build's Unicode tables (\p{L}) or on bytes (\C): the look-up path.
_TABLE_ESCAPES = re.compile(r"\\[pPC]")


# A flag group that may turn case folding on: `(?i)`, `(?si)`, `(?i:...)`, also `(?-i)` (read as if on,
# which only costs a look-up). An escaped `\(?i` matches too: the same harmless excess.
_FOLD_FLAG = re.compile(r"\(\?[A-Za-z-]*i")


def duckdb_regex(pattern: str) -> bool:
    """Whether DuckDB's RE2 reads `pattern` as the pure scorer's RE2 does, on any text, without the
    escapes of `_TABLE_ESCAPES`: an ASCII pattern (case folding of ASCII letters is the same in every
    build: k, K and the Kelvin sign; s, S and the long s), or a pattern with non-ASCII characters that
    folds no case. Without folding, a non-ASCII literal or class range is compiled to the same UTF-8
    byte sequences by every build (no Unicode table is read: `\\w`, `\\d`, `\\s`, `\\b` are ASCII), so
    only `(?i)` with non-ASCII text needs the look-up (the builds' folding tables may differ)."""
    if _TABLE_ESCAPES.search(pattern) is not None:
        return False
    return pattern.isascii() or _FOLD_FLAG.search(pattern) is None


# Characters of a lowered needle that only Python's lower() makes from LOWER_DIFFERS: the combining dot
# of "İ" and the two sigmas. A needle without them is found by DuckDB in every value Python finds it in.
_FROM_DIFFERS = ("\u0307", "\u03c3", "\u03c2")


def _dotless(needle: str) -> bool:
    """Whether `contains` of this needle needs the pure scorer only on values holding a capital I with
    dot, and only where DuckDB's lower() finds the needle: the lowered needle holds none of
    _FROM_DIFFERS (so a match in Python's lowered value is one in DuckDB's, which differs from it only
    by dropping the dot after an "i" and by "σ" for "ς") but holds an "i" (which a dropped dot may join
    to the next character in DuckDB's lowered value only)."""
    low = needle.lower()
    return "i" in low and not any(ch in low for ch in _FROM_DIFFERS)


def _exact_contains(column: str, needle: str) -> str | None:
    """`contains` in DuckDB alone where its lower() cannot change the answer: a lowered needle without
    "i" and without the characters of _FROM_DIFFERS matches the same values in both lowered texts (they
    differ only at an "İ", lowered to "i" plus a dot or to "i", and at a "Σ", which both lower to a
    sigma: a window of the needle's characters never covers either). None: the look-up is needed."""
    low = needle.lower()
    if "i" in low or any(ch in low for ch in _FROM_DIFFERS):
        return None
    return f"coalesce(contains(lower({column}), {q.text(low)}), FALSE)"


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
    deferred: bool = False  # evaluated only when the query found a lead with such a value (`risk_sql`)


@dataclass
class Lookups:
    """The lookups a query needs, registered while it is compiled and filled before it runs."""

    flavor: LookupFlavor = "duckdb"
    entries: dict[tuple[str, str, str, str], Lookup] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    values_tested: int = 0  # distinct values the pure scorer's predicate looked at (statistics)
    few: dict[str, list[str]] = field(default_factory=dict)  # filled tables of at most INLINE values
    # whether DuckDB compiles a pattern (its RE2 is older than the pure scorer's: `(?<name>` fails)
    regex_ok: Callable[[str], bool] | None = None
    defer_events: bool = False  # defer the events' `contains` look-ups (module docstring)
    # event columns (quoted names) whose look-ups are never deferred: the caller knows a scan of them
    # filtered by `Lookup.only` costs next to nothing (dictionary-encoded Parquet: the filter is decided
    # per dictionary entry), less than the query's per-row test of whether a filter is unknown
    eager: frozenset[str] = frozenset()
    pending: set[str] = field(default_factory=set)  # deferred look-ups filled as empty so far
    # whether a sample of an events column (quoted name) holds values with one of LOWER_DIFFERS: then its
    # look-ups are made before the query, as for `eager`. Deferred, each lead holding such a value is
    # scored again by a second pass over the events (the leads' events selected from all of them): where
    # such values are common (Turkish or Greek text), that pass cost as much as the query itself
    common_differs: Callable[[str], bool] | None = None
    # per events look-up, the event types of the filters that read it (None: some filter reads it
    # whatever the type): only those events' distinct values are evaluated. A filter tests the type
    # first (`CASE`, condition_sql.event_filter), so a value held only by events of other types is never
    # looked up; on a free-text column shared by many types that spares most of the distinct values.
    scopes: dict[str, frozenset[str] | None] = field(default_factory=dict)

    def add(self, table: str, column: str, key: str, arg: Any, types: Sequence[str] | None = None) -> str:
        """SQL for `column <key> arg` over a row of `table` (NULL-safe: FALSE for a missing value);
        `column` is the quoted name of a text column of `table`; `types`: the event types of the rows
        the SQL is read on (None: any row)."""
        k = (table, column, key, repr(arg))
        col = column
        duck = self.flavor == "duckdb"
        if duck and key == "matches" and self._direct_regex(str(arg)):
            # the pure scorer's engine, row by row in parallel, as a hand-written query reads it
            return f"coalesce(regexp_matches({col}, {q.text(str(arg))}), FALSE)"
        if duck and key == "contains":
            exact = _exact_contains(col, str(arg))
            if exact is not None:
                return exact
        # lower() differs from Python's only on values holding one of LOWER_DIFFERS
        only = q.any_of([f"contains({col}, {q.text(ch)})" for ch in LOWER_DIFFERS]) if key == "contains" else None
        if duck and key == "contains" and _dotless(str(arg)):
            # only a capital I with dot can make DuckDB's answer differ, and only from TRUE to FALSE
            only = f"contains({col}, {q.text(LOWER_DIFFERS[0])})"
        found = self.entries.get(k)
        if found is None:
            deferred = duck and only is not None and table == "events" and self.defer_events and col not in self.eager
            if deferred and self.common_differs is not None and self.common_differs(col):
                deferred = False
            name = f"_ls_m{len(self.entries)}"
            found = self.entries[k] = Lookup(name, table, column, key, arg, only if duck else None, deferred)
            self.scopes[name] = frozenset()
        scope = self.scopes[found.name]
        self.scopes[found.name] = None if scope is None or types is None else scope | frozenset(types)
        if self.flavor == "spark":
            return f"coalesce({found.name}({col}), FALSE)"
        listed = f"{col} IN (SELECT v FROM {found.name})"
        if duck and key == "contains" and _dotless(str(arg)):
            lowered = f"coalesce(contains(lower({col}), {q.text(str(arg).lower())}), FALSE)"
            # the look-up read only where DuckDB finds the needle in a value holding that I (NULL while
            # a deferred one waits, as below; FALSE once made, when no value matched: `x IN (NULL)`);
            # elsewhere DuckDB's answer is the pure scorer's
            if not found.deferred:
                listed = f"coalesce({listed}, FALSE)"
            return f"(CASE WHEN {lowered} THEN (CASE WHEN {only} THEN ({listed}) ELSE TRUE END) ELSE FALSE END)"
        if only is not None:
            lowered = f"contains(lower({col}), {q.text(str(arg).lower())})"
            if found.deferred:
                # NULL (unknown) on a value not evaluated yet (`inline`); three-valued logic carries it
                # to the event's filter exactly when the filter's answer depends on it (`mentions`)
                return f"(CASE WHEN {only} THEN ({listed}) ELSE coalesce({lowered}, FALSE) END)"
            return f"coalesce(CASE WHEN {only} THEN {listed} ELSE {lowered} END, FALSE)"
        return f"coalesce({listed}, FALSE)"

    def _direct_regex(self, pattern: str) -> bool:
        return duckdb_regex(pattern) and (self.regex_ok is None or self.regex_ok(pattern))

    def mentions_deferred(self, sql: str) -> bool:
        """Whether `sql` reads a deferred look-up (it is NULL on the values that look-up must evaluate)."""
        return any(f" IN (SELECT v FROM {lk.name})" in sql for lk in self.entries.values() if lk.deferred)

    def fill_duckdb(self, con: duckdb.DuckDBPyConnection, *, deferred: bool = False) -> None:
        """Create the table of matching values of every lookup not yet filled; a deferred one is left
        empty (`pending`) unless `deferred`."""
        for lk in self.entries.values():
            if lk.name in self.done and not (deferred and lk.name in self.pending):
                continue
            if lk.deferred and not deferred:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {lk.name} (v VARCHAR)")
                self.pending.add(lk.name)
                self.done.add(lk.name)
                continue
            self.pending.discard(lk.name)
            test = text_test(lk.key, lk.arg)
            col = lk.column
            # the distinct values reach Python a slice at a time; only the matching ones are kept
            scope = self.scopes.get(lk.name) if lk.table == "events" else None
            result = con.execute(
                f"SELECT DISTINCT CAST({col} AS VARCHAR) AS v FROM {lk.table} WHERE {col} IS NOT NULL"
                + (f" AND {lk.only}" if lk.only else "")
                + (f" AND type IN {q.text_list(sorted(scope))}" if scope else "")
            )
            hits: list[str] = []
            while rows := result.fetchmany(SLICE):
                self.values_tested += len(rows)
                hits.extend(str(r[0]) for r in rows if test(r[0]))
            con.execute(f"CREATE OR REPLACE TEMP TABLE {lk.name} (v VARCHAR)")
            if len(hits) > INLINE:  # many: through Arrow (a free-text column can match millions)
                import pyarrow as pa  # only then: importing it costs about half a second

                con.register("_ls_m_hits", pa.table({"v": pa.array(hits, pa.string())}))
                con.execute(f"INSERT INTO {lk.name} SELECT v FROM _ls_m_hits")
                con.unregister("_ls_m_hits")
            else:
                if hits:
                    con.executemany(f"INSERT INTO {lk.name} VALUES (?)", [[h] for h in hits])
                self.few[lk.name] = hits
            self.done.add(lk.name)

    def inline(self, sql: str) -> str:
        """`sql` with each filled look-up of few values written in place: `x IN ('a', 'b')`, or
        `x IN (NULL)` (never TRUE; the look-ups are read through coalesce(..., FALSE)) for none. A
        deferred look-up not yet evaluated is `x IN (NULL)`, unknown; evaluated with no match, `x IN ('')`,
        FALSE (the values it reads hold one of LOWER_DIFFERS: none is empty)."""
        deferred = {lk.name for lk in self.entries.values() if lk.deferred}
        for name in self.pending:
            sql = sql.replace(f" IN (SELECT v FROM {name})", " IN (NULL)")
        for name, values in self.few.items():
            listed = q.text_list(values) if values else "('')" if name in deferred else "(NULL)"
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
