"""Predicate semantics, exactly as MODEL-FORMAT.md states them: no type coercion.

Numbers compare with numbers (100 == 100.0), text with text; `true` is not `1`; a missing value fails
every predicate except `exists: false`. Each predicate is compiled once into a closure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadscore.model.predicates import PredicateFields
from leadscore.model.regex import searcher


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

Test = Callable[[Any], bool]


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, str):
        return "str"
    return "other"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same(a: Any, b: Any) -> bool:
    """Equality without coercion: kinds must match, then values compare."""
    ka = kind(a)
    return ka == kind(b) and ka != "other" and a == b


def _ordered(a: Any, b: Any) -> bool:
    ka = kind(a)
    return ka == kind(b) and ka in ("num", "str")


def _member(options: list[Any]) -> Test:
    """Membership without coercion, by kind: sets per kind, so `true` never matches `1` (equal hashes)."""
    texts = {o for o in options if kind(o) == "str"}
    numbers = {o for o in options if kind(o) == "num"}
    flags = {o for o in options if kind(o) == "bool"}

    def test(v: Any) -> bool:
        if isinstance(v, bool):
            return v in flags
        if isinstance(v, str):
            return v in texts
        if isinstance(v, int | float):
            return v in numbers
        return False

    return test


def _one(key: str, arg: Any) -> Test:
    # eq / in are the hot path of event filters: specialised per kind instead of calling `same`
    if key == "eq":
        return _member([arg])
    if key == "ne":
        member = _member([arg])
        return lambda v: not member(v)
    if key == "in":
        return _member(list(arg))
    if key == "not_in":
        member = _member(list(arg))
        return lambda v: not member(v)
    if key == "gt":
        return lambda v: _ordered(v, arg) and v > arg
    if key == "gte":
        return lambda v: _ordered(v, arg) and v >= arg
    if key == "lt":
        return lambda v: _ordered(v, arg) and v < arg
    if key == "lte":
        return lambda v: _ordered(v, arg) and v <= arg
    if key == "between":
        lo, hi = arg
        return lambda v: _ordered(v, lo) and _ordered(v, hi) and lo <= v <= hi
    if key == "contains":
        needle = str(arg).lower()
        return lambda v: isinstance(v, str) and needle in v.lower()
    if key == "matches":
        found = searcher(str(arg))  # RE2: linear time, so no pattern can stall scoring
        return lambda v: isinstance(v, str) and found(v)
    raise ValueError(f"unknown predicate {key!r}")  # pragma: no cover - the spec forbids it


def compile_predicate(pred: PredicateFields) -> Test:
    """All predicates of the mapping must hold; a missing value fails all but `exists: false`."""
    items = pred.predicate_items()
    exists = next((v for k, v in items if k == "exists"), None)
    tests = [_one(k, v) for k, v in items if k != "exists"]

    if exists is False:
        # `exists: false` holds only for a missing value; other predicates cannot hold then.
        return (lambda v: v is MISSING) if not tests else (lambda v: False)

    if len(tests) == 1:
        only = tests[0]
        return lambda v: v is not MISSING and only(v)

    def test(v: Any) -> bool:
        if v is MISSING:
            return False
        return all(t(v) for t in tests)

    return test
