"""The `score_changed` triggers' test for many leads at once: which leads none of them can fire for.

`detect_transitions` tests each `score_changed` trigger's `by:` on the lead's score at T minus its
score at T - within, one lead at a time (a compiled predicate call, the window's score looked up, the
difference made: about a fifth of the bulk history pass's trigger detection, for a test that fails for
nearly every lead). Here the same test runs over a part's columns as NumPy arrays: `quiet` says, per
lead, that no `score_changed` trigger holds, which `detect_transitions` then skips
(`scores_quiet`). A lead for which one holds, or whose scores are missing, takes the per-lead path
whole, so the firings, their order and keys are the ones it gives.

Only predicates of numeric comparisons are tested as arrays (`gt`, `gte`, `lt`, `lte`, `between`,
`eq`, `ne`, `in`, `not_in` with numbers a double holds exactly, and `exists`); any other `by:` is
the compiled predicate's, value by value (`engine.values`: the same semantics, by construction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from leadscore.engine.values import compile_predicate
from leadscore.model.predicates import Predicate
from leadscore.model.spec import ScoringModel

_EXACT = 2**53  # a whole number up to this compares with a double exactly in NumPy (it is converted)


def _number(value: Any) -> bool:
    """A number NumPy compares with a double as Python does: not a bool, a whole one exactly held."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, int) or -_EXACT <= value <= _EXACT


def _array_test(key: str, arg: Any, d: np.ndarray) -> np.ndarray | None:
    """`engine.values._one(key, arg)` over the doubles `d`, or None where it is not a numeric comparison.
    (A NaN difference fails every comparison and `eq`/`in`, and passes `ne`/`not_in`, as in Python.)"""
    if key in ("gt", "gte", "lt", "lte", "eq", "ne") and _number(arg):
        x = float(arg)
        ops = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}
        if key in ops:
            out: np.ndarray = ops[key](d, x)
            return out
        return d == x if key == "eq" else ~(d == x)
    if key == "between" and all(_number(a) for a in arg):
        lo, hi = float(arg[0]), float(arg[1])
        return (lo <= d) & (d <= hi)
    if key in ("in", "not_in") and all(_number(a) for a in arg):
        hit = np.zeros(d.shape, dtype=bool)
        for a in arg:
            hit |= d == float(a)
        return hit if key == "in" else ~hit
    return None


def by_holds(by: Predicate, deltas: np.ndarray) -> np.ndarray:
    """`compile_predicate(by)(float(d))` for each double `d` of `deltas` (never missing: a number)."""
    items = by.predicate_items()
    exists = next((v for k, v in items if k == "exists"), None)
    if exists is False:  # holds for a missing value only, and a difference is never missing
        return np.zeros(deltas.shape, dtype=bool)
    out = np.ones(deltas.shape, dtype=bool)
    for key, arg in items:
        if key == "exists":
            continue
        hit = _array_test(key, arg, deltas)
        if hit is None:  # not an array test: the predicate itself, value by value
            test = compile_predicate(by)
            return np.fromiter((test(d) for d in deltas.tolist()), dtype=bool, count=len(deltas))
        out &= hit
    return out


def quiet(
    model: ScoringModel, scores: Sequence[float | None], befores: Mapping[int, Sequence[float | None]]
) -> np.ndarray:
    """Per lead: True where no `score_changed` trigger of `model` holds (`detect_transitions`'
    `scores_quiet`). `scores`: the leads' scores at T; `befores`: by a trigger's window (microseconds),
    the leads' scores at T - within. A lead with a score missing is never quiet: the per-lead path
    refuses it as before."""
    n = len(scores)
    fires = np.zeros(n, dtype=bool)
    now, now_missing = _doubles(scores)
    for trigger in model.triggers:
        if trigger.on != "score_changed":
            continue
        assert trigger.by is not None and trigger.within is not None
        then, missing = _doubles(befores[trigger.within.micros])
        fires |= missing | now_missing
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, as Python gives
            fires |= by_holds(trigger.by, now - then)
    out: np.ndarray = ~fires
    return out


def _doubles(values: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """`values` as doubles (a missing one 0) and where one is missing."""
    if None not in values:  # (one scan in C: a part's scores are all there but where a lead has none)
        return np.asarray(values, dtype=np.float64), np.zeros(len(values), dtype=bool)
    missing = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    return np.asarray([0.0 if v is None else v for v in values], dtype=np.float64), missing
