"""The funnel's numbers from the moves read into Arrow, computed with array operations.

The same numbers as the funnel's statements (`funnel.py`, run in the store or in DuckDB), without
their window functions and groupings: those partition 1.85M moves by lead (a sort on text), then
group them again by (stage, lead), which costs DuckDB about 2.5 s of CPU at a million leads. Here the
moves are put in (lead, at, id) order once: nothing to do when the store sent them in that order
(PostgreSQL reads its covering index), else the lead ids are numbered (a hash) and the numbers
sorted with the times (integers). Every question is then a pass over integer arrays in that order:

- a lead's next move is the next row when the lead is the same;
- the furthest stage a lead reached later is a running maximum from the lead's last row backwards;
- the (stage, lead) pairs of the period are the distinct values of `lead * stages + stage`;
- percentiles take the value at the nearest rank of each stage's values (`np.partition`).

`tests/analytics/test_history.py` compares these numbers with the statements run in the store, on
generated stores and on any history hypothesis makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leadscore.analytics.common import Funnel, ReportFilter

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

PERCENTS = (50, 90)


@dataclass
class FunnelNumbers:
    """What `funnel_report` turns into rows, in the shapes its statements give.

    counts: stage -> (pairs entered, entered first, advanced, exited, still open);
    exits: (from_stage, to_stage, leads, moves); times / velocity: stage -> {percent: microseconds};
    reached: stage -> leads counted in its velocity."""

    counts: dict[str, tuple[int, int, int, int, int]] = field(default_factory=dict)
    exits: list[tuple[str | None, str, int, int]] = field(default_factory=list)
    times: dict[str, dict[int, float]] = field(default_factory=dict)
    velocity: dict[str, dict[int, float]] = field(default_factory=dict)
    reached: dict[str, int] = field(default_factory=dict)


def _numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False)


def _flat(column: pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)


def _leads_in_order(lead: pa.Array, at: np.ndarray, ids: np.ndarray) -> np.ndarray | None:
    """Each row's lead number if the rows are already in (lead, at, id) order (bytewise text order,
    each lead in one run), else None."""
    import numpy as np
    import pyarrow.compute as pc

    n = len(lead)
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    prev, nxt = lead.slice(0, n - 1), lead.slice(1)
    if pc.any(pc.less(nxt, prev)).as_py():
        return None
    new = _numpy(pc.not_equal(prev, nxt))
    same = ~new
    later = (at[1:] > at[:-1]) | ((at[1:] == at[:-1]) & (ids[1:] > ids[:-1]))
    if not bool(np.all(later[same])):
        return None
    number = np.zeros(n, dtype=np.int64)
    np.cumsum(new, out=number[1:])
    return number


def _order(table: pa.Table) -> tuple[np.ndarray | None, np.ndarray]:
    """(the row order that puts the moves in (lead, at, id) order, or None when they are in it; the
    lead number of each row in that order)."""
    import numpy as np
    import pyarrow.compute as pc

    at, ids = _numpy(table.column("at")), _numpy(table.column("id"))
    number = _leads_in_order(_flat(table.column("lead_id")), at, ids)
    if number is not None:
        return None, number
    codes = _numpy(pc.dictionary_encode(_flat(table.column("lead_id"))).indices).astype(np.int64)
    order = np.lexsort((ids, at, codes))
    # renumber the leads in their new order (0, 1, 2...) so that numbers grow with the rows
    codes = codes[order]
    new = np.empty(len(codes), dtype=bool)
    new[0] = True
    np.not_equal(codes[1:], codes[:-1], out=new[1:])
    return order, np.cumsum(new) - 1


def _encode(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[Any]]:
    """(a code per row, the value of each code), nulls a value of their own."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = _flat(values)
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    return _numpy(encoded.indices).astype(np.int64), encoded.dictionary.to_pylist()


def _nearest_ranks(values: np.ndarray) -> dict[int, float]:
    """The values at ranks ceil(p/100 * n) of the sorted values (as `common.rank_query`)."""
    import numpy as np

    n = len(values)
    ranks = [(n * p + 99) // 100 for p in PERCENTS]
    picked = np.partition(values, [r - 1 for r in ranks])
    return {p: float(picked[r - 1]) for p, r in zip(PERCENTS, ranks, strict=True)}


def funnel_numbers(table: pa.Table, funnel: Funnel, f: ReportFilter) -> FunnelNumbers:
    """The funnel's numbers from `table` (`history.stage_moves` read into Arrow, any row order)."""
    import numpy as np
    import pyarrow.compute as pc

    out = FunnelNumbers()
    n = table.num_rows
    if n == 0 or not funnel.stages:
        return out
    order, lead = _order(table)

    def ordered(values: np.ndarray) -> np.ndarray:  # the text columns are encoded first, their codes ordered
        return values[order] if order is not None else values

    at = ordered(_numpy(table.column("at")))
    stage_code, stage_names = _encode(table.column("to_stage"))
    stage_code = ordered(stage_code)
    path = {s: i for i, s in enumerate(funnel.stages)}
    idx_of = np.array([path.get(s, -1) if s is not None else -1 for s in stage_names], dtype=np.int64)
    exit_of = np.array([s in funnel.exits for s in stage_names], dtype=bool)
    idx = idx_of[stage_code]
    initial = ordered(_numpy(pc.fill_null(pc.equal(table.column("cause"), "initial"), False)))
    start, end = f.start_us, f.end_us

    # the next move of the same lead
    has_next = np.zeros(n, dtype=bool)
    np.equal(lead[1:], lead[:-1], out=has_next[:-1])
    next_at = np.empty(n, dtype=np.int64)
    next_at[:-1], next_at[-1] = at[1:], 0
    next_exit = np.zeros(n, dtype=bool)
    next_exit[:-1] = exit_of[stage_code[1:]]
    closed = has_next & (next_at < end)
    exited = closed & next_exit

    # the furthest stage reached by the lead's later moves (those before the end): a running maximum
    # from the last row backwards, kept inside each lead by adding a step per lead larger than any
    # stage index (the leads numbered backwards, so the running maximum never reaches a later lead's)
    reach = np.where(at < end, idx, -1) + 1  # 0 .. len(stages)
    step = len(funnel.stages) + 1
    back = (lead[-1] - lead[::-1]) * step + reach[::-1]
    suffix = (np.maximum.accumulate(back) - (lead[-1] - lead[::-1]) * step)[::-1] - 1
    later = np.full(n, -1, dtype=np.int64)
    later[:-1] = suffix[1:]
    advanced = (idx >= 0) & has_next & (later > idx)

    in_period = (at >= start) & (at < end)
    _stages(out, stage_names, stage_code, lead, in_period, initial, advanced, exited, closed)
    exits = np.flatnonzero(in_period & exit_of[stage_code])
    rows = order[exits] if order is not None else exits  # where those moves are in `table`
    _exits(out, table.column("from_stage").take(rows), stage_names, stage_code[exits], lead[exits])
    stays = in_period & closed
    _percentiles(out.times, stage_names, stage_code[stays], next_at[stays] - at[stays])
    _velocity(out, funnel, f, lead, at, idx, initial)
    return out


def _stages(
    out: FunnelNumbers,
    names: list[Any],
    code: np.ndarray,
    lead: np.ndarray,
    in_period: np.ndarray,
    initial: np.ndarray,
    advanced: np.ndarray,
    exited: np.ndarray,
    closed: np.ndarray,
) -> None:
    """Per stage: the (stage, lead) pairs of the period's moves, with a flag per question (any of the
    lead's moves into the stage), and the moves into it still open."""
    import numpy as np

    rows = slice(None) if in_period.all() else np.flatnonzero(in_period)
    k = len(names)
    pair = lead[rows] * k + code[rows]
    if len(pair) == 0:
        return
    order = np.argsort(pair, kind="stable")  # nearly sorted already: the rows are in lead order
    sorted_pair = pair[order]
    first_row = np.empty(len(sorted_pair), dtype=bool)
    first_row[0] = True
    np.not_equal(sorted_pair[1:], sorted_pair[:-1], out=first_row[1:])
    starts = np.flatnonzero(first_row)
    pair_stage = sorted_pair[starts] % k
    # the three flags as bits of one number, so one pass answers "any of the pair's moves" for each
    flags = initial.astype(np.uint8) | (advanced.astype(np.uint8) << 1) | (exited.astype(np.uint8) << 2)
    any_move = np.bitwise_or.reduceat(flags[rows][order], starts)

    def per_stage(bit: int) -> np.ndarray:
        return np.bincount(pair_stage[(any_move & bit) != 0], minlength=k)

    entered = np.bincount(pair_stage, minlength=k)
    first, adv, ex = per_stage(1), per_stage(2), per_stage(4)
    still_open = np.bincount(code[rows][~closed[rows]], minlength=k)
    for c, name in enumerate(names):
        if entered[c] and name is not None:
            out.counts[name] = (int(entered[c]), int(first[c]), int(adv[c]), int(ex[c]), int(still_open[c]))


def _exits(
    out: FunnelNumbers, from_stage: pa.ChunkedArray, names: list[Any], code: np.ndarray, lead: np.ndarray
) -> None:
    """The period's moves into an exit (their from_stage, to_stage code and lead), per (from, to):
    distinct leads and moves."""
    import numpy as np

    if len(code) == 0:
        return
    from_code, from_names = _encode(from_stage)
    k = len(names)
    key = from_code * k + code
    keys, moves = np.unique(key, return_counts=True)
    span = int(lead.max()) + 1
    lead_keys = np.unique(key * span + lead) // span
    leads = np.bincount(np.searchsorted(keys, lead_keys), minlength=len(keys))
    for key_value, m, distinct in zip(keys.tolist(), moves.tolist(), leads.tolist(), strict=True):
        out.exits.append((from_names[key_value // k], names[key_value % k], distinct, m))
    out.exits.sort(key=lambda e: (e[0] is not None, e[0] or "", e[1]))  # one order, whatever the codes


def _percentiles(into: dict[str, dict[int, float]], names: list[Any], code: np.ndarray, values: np.ndarray) -> None:
    import numpy as np

    for c in np.unique(code).tolist():
        if names[c] is not None:
            into[names[c]] = _nearest_ranks(values[code == c])


def _velocity(
    out: FunnelNumbers,
    funnel: Funnel,
    f: ReportFilter,
    lead: np.ndarray,
    at: np.ndarray,
    idx: np.ndarray,
    initial: np.ndarray,
) -> None:
    """Per lead: its first move (when it entered the funnel), the stage it entered at and the first
    time it reached each later stage of the path; the days between, for stages first reached in the
    period by leads that entered before them.

    The rows are in (lead, at, id) order, so a lead's first row is its first move, and the first time
    it reached stage i is the row where the furthest stage of its earlier moves was below i and this
    one's is i or later (a running maximum, kept inside each lead as in `funnel_numbers`)."""
    import numpy as np

    n = len(lead)
    new = np.ones(n, dtype=bool)
    np.not_equal(lead[1:], lead[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    step = len(funnel.stages) + 1
    running = np.maximum.accumulate(lead * step + idx + 1) - lead * step - 1
    before = np.full(n, -1, dtype=np.int64)
    before[1:] = np.where(new[1:], -1, running[:-1])
    rises = np.flatnonzero(idx > before)  # rows that reach a stage for the first time
    rise_lead = lead[rises]
    entered_at = at[starts][rise_lead]
    start_idx = np.maximum.reduceat(np.where(initial, idx, -1), starts)[rise_lead]
    rise_at, rise_idx, rise_before = at[rises], idx[rises], before[rises]
    in_period = (rise_at >= f.start_us) & (rise_at < f.end_us)
    for i, stage in enumerate(funnel.stages[1:], start=1):
        keep = in_period & (rise_before < i) & (rise_idx >= i) & (start_idx < i)
        if keep.any():
            out.velocity[stage] = _nearest_ranks(rise_at[keep] - entered_at[keep])
            out.reached[stage] = int(keep.sum())
