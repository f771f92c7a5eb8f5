"""The replay's score conditions decided from the rules' counts alone, where bounds suffice.

A decayed rule's points lie between 0 and its points times its events' count (each decay factor is in
(0, 1]: no event of a frame is after the row), clamped by its limit; a count's points, the lead's own
conditions and the counts' conditions are exact. So each dimension and the total lie in an interval
known from the frames' counts, without the epoch sums (the costliest aggregates: `frame_windows`) nor
the latest times. Where a condition is certainly true or certainly false over that interval, widened
far past every rounding of the exact path (`_SLACK`), the exact path decides it the same way: its
value lies within its own error bound of the same true score, inside the widened interval, and its
three-valued comparisons (`frame_scores._score_pred`) use the same margins. Those rows need no exact
score; the others are evaluated exactly (`frame_reads`).

Before a lead's score first crosses a threshold the bound is usually far from it: on the b2b example
the first rows of a lead (where the MQL condition is read until it first holds) are mostly decided so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from leadscore.bulk.frame_scores import Column, Conditions, _cond, _leaves, _Rows, _rule, _Values

if TYPE_CHECKING:
    import numpy as np

    from leadscore.sql.stage_arrays import RulePlan

_SLACK = 1e-6  # relative widening: past the exact path's error bound (about 1e-11 relative) and the sums' roundings
_WIDE = 1e250  # an unbounded rule's bound: finite, so sums and midpoints stay numbers


def counted(conds: Conditions, aliases: set[str]) -> set[str]:
    """The aliases of `aliases` the bounds read: the counts (every frame but the epoch sums and the
    latest times, which the bounds never read)."""
    plan = conds.plan
    skip = {a for r in plan.rules for a in (r.latest, r.sum_ts, *r.sums) if a}
    return aliases - skip


def decided(
    conds: Conditions, rows: _Rows, cols: dict[str, Column], lead_of: np.ndarray, ks: Iterable[int]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(certainly true, certainly false) of each condition of `ks` at the kept rows `rows.out` from the
    score bounds (`cols`: the counts there, `counted`); a row neither certainly true nor false is left
    to the exact path."""
    import numpy as np

    plan = conds.plan
    vals = _Values(rows, cols, conds.lead_cols, lead_of)
    n = len(vals.t)
    lead_dims = conds.lead_dims()
    total_lo, total_hi = np.zeros(n), np.zeros(n)
    for name, floor, cap in plan.dims:
        if name in conds.per_lead:
            value, err = lead_dims[name]
            lo, hi = value[lead_of] - err[lead_of], value[lead_of] + err[lead_of]
        else:
            lo, hi = np.zeros(n), np.zeros(n)
            for r in plan.rules:
                if r.dimension == name:
                    r_lo, r_hi = _rule_bounds(r, vals, n)
                    if r_lo is not None:  # (None: 0 at every row, nothing to add)
                        lo += r_lo
                    if r_hi is not None:
                        hi += r_hi
            lo, hi = _clamped(lo, hi, floor, cap)
        vals.scores[name] = _widened(lo, hi)
        total_lo += lo
        total_hi += hi
    vals.scores["total"] = _widened(total_lo, total_hi)
    return [_cond(plan.conditions[k], vals) for k in ks]


def _widened(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(midpoint, half-width) of [lo, hi] widened by `_SLACK` of its ends' size: always > 0, so
    `frame_scores._score_pred` takes it as an interval, never as an exact value."""
    import numpy as np

    half = (hi - lo) * 0.5 + _SLACK * (1.0 + np.abs(lo) + np.abs(hi))
    return (lo + hi) * 0.5, half


def _clamped(lo: np.ndarray, hi: np.ndarray, floor: float | None, cap: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The dimension's clamp (cap tested first, as in the pure scorer) applied to both ends: monotone
    unless the floor passes the cap, where any value between them is taken as possible."""
    import numpy as np

    if floor is not None and cap is not None and floor > cap:
        return np.minimum(lo, float(cap)), np.maximum(hi, float(floor))
    if floor is not None:
        lo, hi = np.maximum(lo, float(floor)), np.maximum(hi, float(floor))
    if cap is not None:
        lo, hi = np.minimum(lo, float(cap)), np.minimum(hi, float(cap))
    return lo, hi


def _rule_bounds(r: RulePlan, vals: _Values, n: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(lowest, highest) points of one rule at each row from the counts alone (None: 0 at every row)."""
    import numpy as np

    if r.kind == "zero":
        return None, None
    if r.kind == "count" or (r.kind == "cond" and r.cond is not None and _count_only(r.cond)):
        pts, _ = _rule(r, vals)  # exact: reads the counts and the lead's row only
        return pts, pts
    if r.kind == "half_life":
        # each factor in (0, 1]: the points between 0 and points x the count, then the rule's limit
        far = r.points * vals.count(r.old if r.old is not None else r.n)
    elif r.kind == "once_decay":
        far = np.where(vals.count(r.n) > 0, r.points, 0.0)
    else:  # a linear decay, a condition on a score: no bound
        return np.full(n, -_WIDE), np.full(n, _WIDE)
    if r.limit is not None:  # as `frame_scores._rule` clamps: monotone, so the bound's end clamped alike
        lim = float(r.limit)
        far = np.minimum(far, lim, out=far) if r.points >= 0 else np.maximum(far, -lim, out=far)
    return (None, far) if r.points >= 0 else (far, None)


def _count_only(cond: tuple[object, ...]) -> bool:
    return all(leaf[0] in ("lead", "count", "none") for leaf in _leaves(cond))
