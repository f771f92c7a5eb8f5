"""Predicates (`eq`, `gte`, `between`, `contains`...) as SQL, with the pure scorer's semantics exactly.

A value is a list of typed SQL expressions of which at most one is non-null (see `schema`); NULL in
all of them is a missing value. Each comparison only looks at the expression of the literal's kind:
`eq: 100` on a text column is simply FALSE, never a cast. Every piece is NULL-safe (coalesced), so
NOT and OR over them behave like Python's booleans.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from leadscore.engine.values import kind
from leadscore.model.predicates import PredicateFields
from leadscore.sql import literals as q
from leadscore.sql.columns import Kind

TypedExpr = tuple[str, Kind]
# (the value's text expression, predicate key, argument) -> SQL evaluating the predicate exactly
# (`lookups.py`); None where the engine has no such means (the printed SQL of other dialects)
TextLookup = Callable[[str, str, Any], str]
_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class NotExpressible(Exception):
    """A feature of the model that the SQL cannot reproduce exactly; the pure scorer takes over."""


def present(value: Sequence[TypedExpr]) -> str:
    return q.any_of([f"{expr} IS NOT NULL" for expr, _ in value])


def _slot(value: Sequence[TypedExpr], k: str) -> str | None:
    return next((expr for expr, kk in value if kk == k), None)


def _safe(cond: str) -> str:
    return f"coalesce({cond}, FALSE)"


def _eq(value: Sequence[TypedExpr], arg: Any) -> str:
    k = kind(arg)
    expr = _slot(value, k) if k != "other" else None
    if expr is None:
        return "FALSE"
    return _safe(f"{expr} = {q.literal(arg)}")


def _ordered(value: Sequence[TypedExpr], arg: Any, op: str) -> str:
    k = kind(arg)
    expr = _slot(value, k) if k in ("num", "str") else None
    if expr is None:
        return "FALSE"
    return _safe(f"{expr} {op} {q.literal(arg)}")


# RE2 (DuckDB, Spark's Java regex) and Python disagree on Unicode classes and some syntax; only
# patterns made of constructs that mean the same in all three are compiled to SQL.
_SAFE_REGEX = re.compile(r"^(?:[^\\(]|\\[.^$*+?()\[\]{}|\\/-]|\((?!\?))*$")


def _matches(value: Sequence[TypedExpr], pattern: str, lookup: TextLookup | None) -> str:
    expr = _slot(value, "str")
    if expr is None:
        return "FALSE"  # only text can match
    if lookup is not None:
        return lookup(expr, "matches", pattern)
    if not _SAFE_REGEX.match(pattern) or not pattern.isascii():
        raise NotExpressible(f"regular expression {pattern!r} uses constructs whose meaning differs between engines")
    if "[:" in pattern or ("$" in pattern and "[" in pattern):
        raise NotExpressible(f"regular expression {pattern!r} uses constructs whose meaning differs between engines")
    # `matches` has RE2 semantics in the pure scorer too (leadscore.model.regex): `$` is the very end
    # of the text, as in DuckDB and PostgreSQL, so the pattern goes to SQL unchanged. (Java's `$`, on
    # Spark, also matches before a final line terminator: Spark takes the look-up path.)
    return _safe(f"regexp_matches({expr}, {q.text(pattern)})")


def _contains(value: Sequence[TypedExpr], needle: str, lookup: TextLookup | None) -> str:
    expr = _slot(value, "str")
    if expr is None:
        return "FALSE"
    if lookup is not None:
        return lookup(expr, "contains", needle)
    if not needle.isascii():
        raise NotExpressible(f"`contains: {needle!r}`: case folding of non-ASCII text differs between engines")
    # without lookups (printed SQL for other engines): lower() of non-ASCII text may still differ
    # from Python's (the Kelvin sign lowers to an ASCII k in Python), a difference the header states
    return _safe(f"strpos(lower({expr}), {q.text(needle.lower())}) > 0")


def _one(value: Sequence[TypedExpr], key: str, arg: Any, lookup: TextLookup | None = None) -> str:
    if key == "eq":
        return _eq(value, arg)
    if key == "ne":
        return q.all_of([present(value), q.negate(_eq(value, arg))])
    if key == "in":
        return q.any_of([_eq(value, a) for a in arg])
    if key == "not_in":
        return q.all_of([present(value), q.negate(q.any_of([_eq(value, a) for a in arg]))])
    if key in _OPS:
        return _ordered(value, arg, _OPS[key])
    if key == "between":
        lo, hi = arg
        if kind(lo) != kind(hi):
            return "FALSE"
        return q.all_of([_ordered(value, lo, ">="), _ordered(value, hi, "<=")])
    if key == "contains":
        return _contains(value, str(arg), lookup)
    if key == "matches":
        return _matches(value, str(arg), lookup)
    raise NotExpressible(f"unknown predicate {key!r}")  # pragma: no cover - the spec forbids it


def predicate_sql(pred: PredicateFields, value: Sequence[TypedExpr], lookup: TextLookup | None = None) -> str:
    """All predicates of the mapping must hold; a missing value fails all but `exists: false`.

    `lookup` evaluates `matches` (every pattern) and non-ASCII `contains` with the pure scorer's own
    code (`lookups.py`); without it, only the patterns all engines read alike compile, the others
    raise NotExpressible."""
    items = pred.predicate_items()
    exists = next((v for k, v in items if k == "exists"), None)
    tests = [_one(value, k, v, lookup) for k, v in items if k != "exists"]
    if exists is False:
        return q.negate(present(value)) if not tests else "FALSE"
    # every comparison already fails on a missing value; `exists: true` alone needs presence
    return q.all_of([present(value), *tests]) if not tests or exists else q.all_of(tests)
