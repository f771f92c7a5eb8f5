"""A dimension's points added in rule order with how far that sum may lie from the pure scorer's
`math.fsum` of the exact terms, and its floor and cap (`frame_scores`, the one-pass replay's scores in
NumPy): apart because it is the error arithmetic a score condition is decided or left undecided by,
the same for a lead's own dimensions and the ones at each (lead, time) row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from leadscore.sql.stage_arrays import RulePlan

EPS = 2.0**-52
_EXACT = 2.0**53  # whole numbers below it add exactly


def whole_points(r: RulePlan) -> bool:
    """Whether the rule's points are a whole number at every row: a count's or a condition's, of whole
    points and limit (`sum_terms` need not test them)."""
    return (
        r.kind in ("count", "cond", "zero")
        and float(r.points).is_integer()
        and (r.limit is None or float(r.limit).is_integer())
    )


def sum_terms(
    terms: list[np.ndarray], errors: list[np.ndarray | None], n: int, whole: list[bool] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(the terms added in order, how far that may lie from `math.fsum` of the exact terms). An error
    None is 0 (nothing added: every error is +0.0 or more); `whole`: the terms known to be whole numbers
    at every row (`whole_points`), not tested here (half of the b2b example's engagement rules)."""
    import numpy as np

    if not terms:
        return np.zeros(n), np.zeros(n)
    value = terms[0]
    if len(terms) > 1:
        value = value + terms[1]  # a new array: the later additions in place, in the same order
        for x in terms[2:]:
            np.add(value, x, out=value)
    own: np.ndarray | None = None
    for e in errors:
        if e is not None:
            own = e if own is None else own + e
    rounding = np.zeros(n)
    if len(terms) > 2:  # one addition rounds as fsum does; more may round more, unless all are whole
        size = np.abs(terms[0])
        is_whole = np.ones(n, dtype=bool)
        for i, x in enumerate(terms):
            if i:
                np.add(size, np.abs(x), out=size)
            if whole is None or not whole[i]:
                is_whole &= x == np.floor(x)
        rounding = np.where(is_whole & (size < _EXACT), 0.0, (len(terms) + 1) * EPS * size)
    err = rounding if own is None else own * (1.0 + EPS) + rounding
    return value, np.where(err > 0, err + EPS * np.abs(value), 0.0)


def dimension(
    points: list[tuple[np.ndarray, np.ndarray | None]],
    n: int,
    floor: float | None,
    cap: float | None,
    whole: list[bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(a dimension's value, its error) from its rules' (points, error), clamped to its floor and cap
    (`whole`: `sum_terms`'s)."""
    import numpy as np

    raw, err = sum_terms([p for p, _ in points], [e for _, e in points], n, whole)
    value, clamped = raw, np.zeros(n, dtype=bool)
    if floor is not None:
        value = np.where(raw < floor, float(floor), value)
        clamped |= raw + err < floor
    if cap is not None:  # tested first, as in the pure scorer
        value = np.where(raw > cap, float(cap), value)
        clamped |= raw - err > cap
    return value, np.where(clamped, 0.0, err)
