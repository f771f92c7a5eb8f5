"""The one-pass replay's conditions at each (lead, time) row computed with NumPy from the window
aggregates (`bulk.frame_windows.arrays`), by the plan `sql.stage_arrays` made of the SQL of `stage_windows`.

The SQL over the aggregates (every rule's points, a compensated sum per dimension as a list per row,
the error bounds of the rewritten decays, the three-valued conditions) cost about as much as the
aggregates: here each is a few array operations per rule. The values are the SQL's, operation for
operation, except two places that round differently, both covered by an error bound so that a score
condition too close to its threshold is left undecided (NULL) for the join, as the SQL leaves the
rewritten decays' (`window_rules`):

- a dimension's sum (and the total's, past two dimensions) is added in rule order, where the pure
  scorer's `math.fsum` rounds once: exact when every term is a whole number (sums below 2 ** 53),
  otherwise within (k + 1) * 2 ** -52 of the sum of the terms' magnitudes;
- a `once` rule's half-life factor by NumPy's power, not the C library's: within 2 ** -48 of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from leadscore.bulk.frame_sums import EPS, dimension, sum_terms, whole_points
from leadscore.sql.window_compiler import T
from leadscore.sql.window_rules import CUT_HALF_LIVES

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from leadscore.sql.stage_arrays import ArrayPlan, RulePlan

# an aggregate at each kept row: (values, NULL mask), an exact DECIMAL array, or an epoch sum's pair of
# sums (`Epochs`: `frame_windows.arrays(nulls=False)`)
Column: TypeAlias = "tuple[np.ndarray, np.ndarray | None] | pa.Array | Epochs"


class _Rows(Protocol):
    """What is read of `frame_rows.Rows` (`frame_windows`, which imports this module, computes over it):
    the rows' times, the kept rows."""

    ts: np.ndarray
    out: np.ndarray


_REL, _REL_PER_EVENT = 4e-12, 4.5e-16  # `window_rules._REL`, `_REL_PER_EVENT`
_POWER_REL = 2.0**-48  # NumPy's power against the C library's (a few ulps at most)


class Epochs:
    """An epoch sum of one parity at each kept row (`Frame` "epoch_sum"), as the sums of its flag's events
    in the row's own epoch (`own`) and in the part of the epoch before inside the frame (`before`): the
    one of the row's parity is `own`, the other's `before`. `frame_scores` reads the pair of a half-life
    as it is (the row's epoch times its factor, the one before times its own), instead of splitting
    each row's two sums by parity here and joining them again there; `value` is the parity's sum. An
    epoch sum over no event is 0.0 (the weights are positive), as `arrays(nulls=False)` gives it."""

    def __init__(self, own: np.ndarray, before: np.ndarray, own_parity: np.ndarray, parity: int, key: object) -> None:
        self.own, self.before, self.own_parity, self.parity, self.key = own, before, own_parity, parity, key

    def value(self) -> np.ndarray:
        import numpy as np

        out: np.ndarray = np.where(self.own_parity == self.parity, self.own, self.before)
        return out


class _Wide(Exception):
    """A sum of times past a BIGINT: this part's conditions are left to the SQL."""


class _Values:
    """The aggregates of one part's rows, the lead columns at each row, and each score with its error."""

    def __init__(self, rows: _Rows, cols: dict[str, Column], leads: dict[str, np.ndarray], lead_of: np.ndarray):
        self.rows, self.cols, self.leads, self.lead_of = rows, cols, leads, lead_of
        self.t = rows.ts[rows.out]
        self.scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._factors: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def epoch_factors(self, period: int, half_life: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the factor of the row's own epoch, of the epoch before, whether the row's epoch is even),
        as `window_rules._half_life_sum` derives them once for the rules of one half-life and frame."""
        import numpy as np

        found = self._factors.get((period, half_life))
        if found is None:
            t, h = self.t, float(half_life)
            epoch = np.floor_divide(t, period)
            own = np.power(2.0, -(t - epoch * period).astype(np.float64) / h)
            before = np.power(2.0, -(t - (epoch - 1) * period).astype(np.float64) / h)
            found = self._factors[(period, half_life)] = (own, before, (epoch & 1) == 0)
        return found

    def get(self, alias: str) -> tuple[np.ndarray, np.ndarray | None]:
        col = self.cols[alias]
        if isinstance(col, Epochs):
            return col.value(), None
        if not isinstance(col, tuple):
            raise _Wide
        return col

    def epochs(self, r: RulePlan) -> tuple[np.ndarray, np.ndarray] | None:
        """A half-life rule's sums in the row's epoch and the one before, when the arrays hand them over
        as they are (`frame_windows.Epochs` of one flag and period, parities 0 and 1)."""
        a, b = self.cols.get(r.sums[0]), self.cols.get(r.sums[1])
        if isinstance(a, Epochs) and isinstance(b, Epochs) and a.key == b.key and (a.parity, b.parity) == (0, 1):
            return a.own, a.before
        return None

    def count(self, alias: str | None) -> np.ndarray:
        import numpy as np

        return np.zeros(len(self.t), dtype=np.int64) if alias is None else self.get(alias)[0]

    def filled(self, alias: str) -> np.ndarray:
        import numpy as np

        values, null = self.get(alias)
        return values if null is None else np.where(null, 0, values)


def _pred(key: str, arg: Any, v: np.ndarray) -> np.ndarray:
    """An exact comparison of a number never missing (`predicate_sql`)."""
    import numpy as np

    if key == "between":
        return (v >= float(arg[0])) & (v <= float(arg[1]))
    if key in ("in", "not_in"):
        hit = np.zeros(len(v), dtype=bool)
        for a in arg:
            hit |= v == float(a)
        return hit if key == "in" else ~hit
    x = float(arg)
    ops = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}
    ops |= {"eq": np.equal, "ne": np.not_equal}
    out: np.ndarray = ops[key](v, x)
    return out


def _margin(x: float) -> float:
    return 1e-9 * (1.0 + abs(x))  # `stage_bounds._eps`


def _score_pred(key: str, arg: Any, v: np.ndarray, err: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(certainly holds, certainly fails) of a comparison of a score known within `err`, as
    `stage_bounds._num_pred` over [v - err, v + err] where err > 0, exact where err is 0."""
    import numpy as np

    lo, hi = v - err, v + err
    if key == "between":
        a, b = float(arg[0]), float(arg[1])
        may_hold = (hi >= a - _margin(a)) & (lo <= b + _margin(b))
        may_fail = (lo < a + _margin(a)) | (hi > b - _margin(b))
    elif key in ("eq", "ne", "in", "not_in"):
        # a point inside the interval may be hit; only a fixed value is certain
        hit, fixed = np.zeros(len(v), dtype=bool), np.zeros(len(v), dtype=bool)
        for a in arg if key in ("in", "not_in") else [arg]:
            x = float(a)
            hit |= (lo <= x + _margin(x)) & (hi >= x - _margin(x))
            fixed |= (lo == x) & (hi == x)
        may_hold, may_fail = (hit, ~fixed) if key in ("eq", "in") else (~fixed, hit)
    else:
        x = float(arg)
        up = hi >= x - _margin(x)
        down = lo <= x + _margin(x)
        may_hold, may_fail = (up, down) if key in ("gt", "gte") else (down, up)
    exact = _pred(key, arg, v)
    zero = err == 0
    return np.where(zero, exact, ~may_fail), np.where(zero, ~exact, ~may_hold)


def _cond(plan: tuple[Any, ...], vals: _Values) -> tuple[np.ndarray, np.ndarray]:
    """(certainly true, certainly false) of a condition of `stage_arrays.cond_plan` at each row."""
    import numpy as np

    match plan[0]:
        case "lead":
            v = vals.leads[plan[1]][vals.lead_of]
            return v, ~v
        case "none":
            v = vals.count(plan[1]) == 0
            return v, ~v
        case "count":
            n = vals.count(plan[1])
            v = np.ones(len(n), dtype=bool)
            for key, arg in plan[2]:
                v &= _pred(key, arg, n)
            return v, ~v
        case "score":
            value, err = vals.scores[plan[1]]
            sure, never = np.ones(len(value), dtype=bool), np.zeros(len(value), dtype=bool)
            for key, arg in plan[2]:
                s, f = _score_pred(key, arg, value, err)
                sure &= s
                never |= f
            return sure, never
        case "all" | "any":
            parts = [_cond(p, vals) for p in plan[1]]
            first = np.ones(len(vals.t), dtype=bool)
            if plan[0] == "all":
                return np.logical_and.reduce([first, *(s for s, _ in parts)]), np.logical_or.reduce(
                    [~first, *(f for _, f in parts)]
                )
            return np.logical_or.reduce([~first, *(s for s, _ in parts)]), np.logical_and.reduce(
                [first, *(f for _, f in parts)]
            )
        case "not":
            sure, never = _cond(plan[1], vals)
            return never, sure
        case _:
            raise AssertionError(plan[0])


def _decayed(r: RulePlan, vals: _Values) -> tuple[np.ndarray, np.ndarray]:
    """(sum of the decay factors, error) of a "half_life" or "linear" rule, as `window_rules` writes it."""
    import numpy as np

    t = vals.t
    n = vals.count(r.n)
    if r.kind == "half_life":
        assert r.half_life is not None
        own, before, even = vals.epoch_factors(r.period, r.half_life)
        pair = vals.epochs(r)
        if pair is not None:  # the same products as below, without the split by parity and back
            total = pair[0] * own + pair[1] * before
        else:
            s0, s1 = vals.filled(r.sums[0]), vals.filled(r.sums[1])
            # the sum of the row's own parity times its factor, plus the other's times the epoch before's
            total = np.where(even, s0, s1) * own + np.where(even, s1, s0) * before
        error = total * (_REL + _REL_PER_EVENT * n)
        if r.old is not None:
            error = error + (vals.count(r.old) - n) * 2.0**-CUT_HALF_LIVES
        return total, error
    assert r.linear is not None and r.sum_ts is not None
    times = vals.filled(r.sum_ts)
    largest = int(np.abs(t).max(initial=0))
    if largest and int(n.max(initial=0)) > (2**62) // largest:
        raise _Wide  # n * t might not fit a BIGINT: the SQL multiplies as HUGEINT
    ages = (n * t - times).astype(np.float64) / float(r.linear)
    return n - ages, 16 * EPS * (n + 8) * (n + ages)


def _rule(r: RulePlan, vals: _Values) -> tuple[np.ndarray, np.ndarray | None]:
    """(points, error) of one rule at each row (`window_rules.window_rule`); the error None where the
    points are exact (a count, a condition, a linear once-decay: no addition nor clamp to make of it)."""
    import numpy as np

    pts: np.ndarray
    err: np.ndarray | None = None
    if r.kind == "count":
        n = vals.count(r.n)
        pts = np.where(n > 0, r.points, 0.0) if r.once else r.points * n
    elif r.kind == "once_decay":
        n = vals.count(r.n)
        assert r.latest is not None
        age = (vals.t - vals.filled(r.latest)).astype(np.float64) / 1_000_000.0
        if r.half_life is not None:
            factor = np.power(0.5, age / float(r.half_life // 1_000_000))
        else:
            assert r.linear is not None
            factor = np.maximum(0.0, 1.0 - age / float(r.linear // 1_000_000))
        pts = np.where(n > 0, r.points * factor, 0.0)
        if r.half_life is not None:
            err = np.abs(pts) * _POWER_REL
    elif r.kind in ("half_life", "linear"):
        summed, error = _decayed(r, vals)
        pts, err = r.points * summed, abs(r.points) * error
    elif r.kind == "cond":
        assert r.cond is not None
        pts = np.where(_cond(r.cond, vals)[0], r.points, 0.0)
    else:
        pts = np.zeros(len(vals.t))
    if r.limit is not None and r.kind != "cond":
        lim = r.limit
        if r.points >= 0:
            if err is not None:
                err = np.where(pts - err > lim, 0.0, err)
            pts = np.minimum(pts, lim)
        else:
            if err is not None:
                err = np.where(pts + err < -lim, 0.0, err)
            pts = np.maximum(pts, -lim)
    return pts, err


def _of_lead(r: RulePlan) -> bool:
    """Whether the rule's points read the lead's own row alone (a condition on its attributes)."""
    return r.kind == "zero" or (r.kind == "cond" and r.cond is not None and _lead_only(r.cond))


def _lead_only(cond: tuple[Any, ...]) -> bool:
    return all(leaf[0] == "lead" for leaf in _leaves(cond))


def _leaves(cond: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    """The leaves of a condition of `stage_arrays.cond_plan` (under its "all", "any" and "not")."""
    match cond[0]:
        case "all" | "any":
            for part in cond[1]:
                yield from _leaves(part)
        case "not":
            yield from _leaves(cond[1])
        case _:
            yield cond


class _LeadRows:
    """One row per lead (at no time): what a per-lead dimension is scored over."""

    def __init__(self, n: int) -> None:
        import numpy as np

        self.ts = np.zeros(n, dtype=np.int64)
        self.out = np.arange(n)


def conditions(
    plan: ArrayPlan,
    rows: _Rows,
    cols: dict[str, Column],
    lead_ids: pa.Array,
    lead_of: np.ndarray,
    leads: pa.Table,
    n_conds: int,
) -> pa.Table | None:
    """(lead_id, _ls_t, _ls_c0..) of one part, as `window_conditions_query` gives them (NULL where a
    score is too close to its threshold); None when the SQL must compute them (a sum of times past a
    BIGINT). `lead_ids`: each kept row's lead; `lead_of`: its row in `leads` (`_ls_lid` and each column
    of `plan.lead_sql`)."""

    assert len(plan.conditions) == n_conds
    found = Conditions(plan, leads).values(rows, cols, lead_of, range(n_conds))
    return None if found is None else as_table(lead_ids, rows.ts[rows.out], found)


def as_table(lead_ids: pa.Array, t: np.ndarray, found: list[tuple[np.ndarray, np.ndarray]]) -> pa.Table:
    """(lead_id, _ls_t, _ls_c0..) from each condition's (certainly true, certainly false): NULL where neither."""
    import pyarrow as pa

    out: dict[str, pa.Array] = {"lead_id": lead_ids, T: pa.array(t)}
    for k, (sure, never) in enumerate(found):
        out[f"_ls_c{k}"] = pa.array(sure, mask=~(sure | never))
    return pa.table(out)


def reads_score(cond: tuple[Any, ...]) -> bool:
    """Whether a condition of `stage_arrays.cond_plan` reads a score (else counts and the lead's row)."""
    return any(leaf[0] == "score" for leaf in _leaves(cond))


def _cond_aliases(cond: tuple[Any, ...]) -> set[str]:
    return {leaf[1] for leaf in _leaves(cond) if leaf[0] in ("count", "none") and leaf[1] is not None}


class Conditions:
    """The plan's conditions over the rows of one part's leads (`leads`: `_ls_lid` and each column of
    `plan.lead_sql`), evaluated at any kept rows, some conditions at a time (`values`). A dimension of
    rules on the lead's own row alone (the `fit` of a profile) is the same at every row of the lead:
    scored once per lead, for every call, then spread to the rows (the same operations, per lead)."""

    def __init__(self, plan: ArrayPlan, leads: pa.Table) -> None:
        self.plan = plan
        self.lead_cols = {name: leads.column(name).to_numpy(zero_copy_only=False) for name in plan.lead_sql.values()}
        self.n_leads = leads.num_rows
        self.per_lead = {
            name for name, _, _ in plan.dims if all(_of_lead(r) for r in plan.rules if r.dimension == name)
        }
        self._lead_dims: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    def aliases(self, ks: Iterable[int]) -> set[str]:
        """The aggregates the conditions `ks` read (every rule's, when one reads a score)."""
        conds = [self.plan.conditions[k] for k in ks]
        out = set().union(*(_cond_aliases(c) for c in conds))
        if any(reads_score(c) for c in conds):
            for r in self.plan.rules:
                out |= {a for a in (r.n, r.latest, r.old, r.sum_ts, *r.sums) if a}
                if r.cond is not None:
                    out |= _cond_aliases(r.cond)
        return out

    def lead_dims(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(value, error) of each per-lead dimension, per row of `leads` (made once)."""
        import numpy as np

        if self._lead_dims is None:
            n = self.n_leads
            vals = _Values(_LeadRows(n), {}, self.lead_cols, np.arange(n))
            self._lead_dims = {}
            for name, floor, cap in self.plan.dims:
                if name in self.per_lead:
                    mine = [_rule(r, vals) for r in self.plan.rules if r.dimension == name]
                    self._lead_dims[name] = dimension(mine, n, floor, cap)
        return self._lead_dims

    def values(
        self, rows: _Rows, cols: dict[str, Column], lead_of: np.ndarray, ks: Iterable[int]
    ) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """(certainly true, certainly false) of each condition of `ks` at the kept rows `rows.out`
        (`cols`: the aggregates there, at least `aliases(ks)`; `lead_of`: each row's lead in `leads`);
        None when the SQL must compute them (a sum of times past a BIGINT)."""
        import numpy as np

        plan = self.plan
        ks = list(ks)
        vals = _Values(rows, cols, self.lead_cols, lead_of)
        n = len(vals.t)
        try:
            if any(reads_score(plan.conditions[k]) for k in ks):
                lead_dims = self.lead_dims()
                points = [None if r.dimension in self.per_lead else _rule(r, vals) for r in plan.rules]
                dims = []
                for name, floor, cap in plan.dims:
                    if name in self.per_lead:
                        value, err = lead_dims[name]
                        value, err = value[lead_of], err[lead_of]
                    else:
                        mine = [
                            (p, whole_points(r))
                            for r, p in zip(plan.rules, points, strict=True)
                            if r.dimension == name and p is not None
                        ]
                        value, err = dimension([p for p, _ in mine], n, floor, cap, [w for _, w in mine])
                    vals.scores[name] = (value, err)
                    dims.append((value, err))
                if len(dims) <= 2:  # one addition rounds as fsum does
                    total = dims[0][0] if len(dims) == 1 else dims[0][0] + dims[1][0]
                    errs = np.zeros(n)
                    for _, e in dims:
                        errs = errs + e
                    vals.scores["total"] = (
                        total,
                        np.where(errs > 0, errs * (1.0 + EPS) + EPS * np.abs(total), 0.0),
                    )
                else:
                    vals.scores["total"] = sum_terms([v for v, _ in dims], [e for _, e in dims], n)
            return [_cond(plan.conditions[k], vals) for k in ks]
        except _Wide:
            return None
