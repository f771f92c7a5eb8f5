"""The bounds the one-pass lifecycle replay (`engine.spans`) proves over a span of time [ta, tb]:
three-valued truth (True, False, or None for unknown; Kleene's logic for all / any), how many of a
lead's matching events a window holds at any time of the span, whether one enters or leaves it, and
a predicate over a number known only within an interval. Apart because they are the arithmetic every
condition and rule bound is made of (`span_conditions`, `spans`), with no model or lead of their own.

Every bound holds for the exact values the pure scorer computes: counts are exact integers, and
score comparisons keep a margin far above the rounding of the sums.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from leadscore.engine.timeline import Matched
from leadscore.engine.values import kind
from leadscore.model.predicates import PredicateFields

Tri = bool | None
Interval = tuple[float, float]


def micros(d: Any) -> int | None:
    return None if d is None else int(d) * 1_000_000


def count_range(m: Matched, within: int | None, ta: int, tb: int) -> tuple[int, int]:
    """Least and most events of `m` in the window (t - within, t] for any t in [ta, tb]."""
    ts = m.ts
    if within is None:
        return bisect_right(ts, ta), bisect_right(ts, tb)
    most = bisect_right(ts, tb) - bisect_right(ts, ta - within)
    least = bisect_right(ts, ta) - bisect_right(ts, tb - within)
    return max(0, least), most


def changes_within(m: Matched, within: int | None, ta: int, tb: int) -> bool:
    """Whether an event of `m` enters or leaves the window at some t in (ta, tb]."""
    ts = m.ts
    if bisect_right(ts, tb) != bisect_right(ts, ta):
        return True
    return within is not None and bisect_right(ts, tb - within) != bisect_right(ts, ta - within)


def kleene_and(parts: Sequence[Tri]) -> Tri:
    if any(p is False for p in parts):
        return False
    return True if all(p is True for p in parts) else None


def kleene_or(parts: Sequence[Tri]) -> Tri:
    if any(p is True for p in parts):
        return True
    return False if all(p is False for p in parts) else None


_ITEMS: dict[int, tuple[PredicateFields, list[tuple[str, Any]]]] = {}


def _items(pred: PredicateFields) -> list[tuple[str, Any]]:
    found = _ITEMS.get(id(pred))
    if found is None or found[0] is not pred:
        if len(_ITEMS) > 4096:
            _ITEMS.clear()
        found = _ITEMS[id(pred)] = (pred, pred.predicate_items())
    return found[1]


def number_tri(pred: PredicateFields, lo: float, hi: float, margin: float) -> Tri:
    """A predicate over a number known to lie in [lo - margin, hi + margin] (never missing)."""
    lo, hi = lo - margin, hi + margin
    out: list[Tri] = []
    for key, arg in _items(pred):
        if key == "exists":
            out.append(bool(arg))
            continue
        if key in ("contains", "matches"):
            out.append(False)
            continue
        args: list[Any] = list(arg) if key in ("in", "not_in", "between") else [arg]
        if key == "between":
            a, b = args
            if kind(a) != "num" or kind(b) != "num":
                out.append(False)
            elif lo >= a and hi <= b:
                out.append(True)
            else:
                out.append(False if hi < a or lo > b else None)
            continue
        nums = [a for a in args if kind(a) == "num"]
        if key in ("eq", "in", "ne", "not_in"):
            # equal to a point: certain only when the interval is that point
            hit: Tri = kleene_or([True if lo == hi == a else (None if lo <= a <= hi else False) for a in nums])
            out.append(hit if key in ("eq", "in") else (None if hit is None else not hit))
            continue
        if not nums:
            out.append(False)  # a number never orders with text or booleans
            continue
        x = nums[0]
        if key == "gt":
            out.append(True if lo > x else False if hi <= x else None)
        elif key == "gte":
            out.append(True if lo >= x else False if hi < x else None)
        elif key == "lt":
            out.append(True if hi < x else False if lo >= x else None)
        else:  # lte
            out.append(True if hi <= x else False if lo > x else None)
    return kleene_and(out)
