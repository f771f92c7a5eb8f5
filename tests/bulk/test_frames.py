"""`bulk.frames`' sum of times past a BIGINT against Python's integers, and how it groups and cuts the rows
(the rest of the module is checked against DuckDB's window operator in tests/sql/test_stage_windows.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.bulk import frame_rows, frame_windows, frames
from leadscore.bulk.frame_rows import Rows
from leadscore.bulk.frame_windows import row_lead_ids, sum_of_times
from leadscore.bulk.frames import _lead_order, _parts
from tests.support.profiles import examples

TIMES = st.integers(min_value=-(2**62), max_value=2**62)


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(st.tuples(TIMES, st.booleans()), min_size=1, max_size=40), st.data())
def test_a_wide_sum_of_times_is_exact(rows: list[tuple[int, bool]], data: st.DataObject) -> None:
    """Times of either sign near 2 ** 62, whose sums pass a BIGINT: each frame's sum equals Python's,
    NULL for a frame without a flagged time; the narrow form agrees wherever its sum fits."""
    ts = np.array([t for t, _ in rows], dtype=np.int64)
    flag = np.array([f for _, f in rows])
    n = len(rows)
    ends = data.draw(st.lists(st.integers(0, n), min_size=1, max_size=10))
    starts = [data.draw(st.integers(0, e)) for e in ends]
    start, end = np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)
    counts = [int(flag[s:e].sum()) for s, e in zip(starts, ends, strict=True)]
    empty = np.array([c == 0 for c in counts])
    expected = [
        sum(int(t) for t, f in zip(ts[s:e], flag[s:e], strict=True) if f) if c else None
        for s, e, c in zip(starts, ends, counts, strict=True)
    ]
    wide = sum_of_times(ts, flag, start, end, empty, True).to_pylist()
    assert wide == expected
    narrow = sum_of_times(ts, flag, start, end, empty, False).to_pylist()
    for got, want in zip(narrow, expected, strict=True):
        if want is None or abs(want) < 2**63:
            assert got == want


@settings(max_examples=examples(100), deadline=None)
@given(
    leads=st.lists(st.lists(st.integers(-5, 40), min_size=1, max_size=8), min_size=1, max_size=5),
    micros=st.sampled_from([1, 2, 10, 11, 45, 2**40]),
)
def test_frames_start_at_the_first_row_of_the_lead_inside_the_window(leads: list[list[int]], micros: int) -> None:
    """Each kept row's frame starts at its lead's first row at or after T - micros + 1 (a row exactly
    `micros` before is out, one less is in; ties collapse to the last), by the key of the lead and the time
    from its first row, and by the ranks of the times where the leads' spans are too wide for one BIGINT."""
    ids = [f"l{k}" for k, times in enumerate(leads) for _ in times]
    ts = [t for times in leads for t in sorted(times)]
    table = pa.table({"lead_id": ids, "_ls_ts": pa.array(ts, pa.int64())})
    expected = []
    rows = Rows.of(table)
    for i in rows.out.tolist():
        first = next(j for j in range(len(ts)) if ids[j] == ids[i] and ts[j] >= ts[i] - micros + 1)
        expected.append(first)
    assert rows.key is not None and rows.start(micros).tolist() == expected
    assert rows.start(None).tolist() == [ids.index(ids[i]) for i in rows.out.tolist()]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame_rows, "INT64_MAX", 0)
        wide = Rows.of(table)
    assert wide.key is None and wide.start(micros).tolist() == expected


def test_rows_are_grouped_by_lead_and_sorted_by_time() -> None:
    """Leads in the order of their first row, each lead's rows by time, ties in the query's order."""
    rows = pa.table({"lead_id": ["b", "a", "b", "a", "b", "c"], "_ls_ts": [5, 9, 1, 2, 5, 0], "k": [0, 1, 2, 3, 4, 5]})
    order, starts = _lead_order(rows)
    assert rows.take(order).column("k").to_pylist() == [2, 0, 4, 3, 1, 5]
    assert starts.tolist() == [0, 3, 5]
    empty, none = _lead_order(rows.slice(0, 0))
    assert len(empty) == 0 and len(none) == 0
    # times too far apart for (lead, time) in one BIGINT: the two keys sorted apart, the same order
    wide = rows.set_column(1, "_ls_ts", pa.array([5, 2**62, 1, -(2**62), 5, 0], pa.int64()))
    assert rows.take(_lead_order(wide)[0]).column("k").to_pylist() == [2, 0, 4, 3, 1, 5]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frames, "_INT64_MAX", 0)
        assert _lead_order(rows)[0].tolist() == order.tolist()


@pytest.mark.parametrize(
    ("starts", "n", "chunk", "expected"),
    [
        ([0, 3, 5], 6, 5, [(0, 5), (5, 6)]),  # a lead ending exactly at the chunk's size closes it
        ([0, 3, 5], 6, 4, [(0, 3), (3, 6)]),
        ([0, 3, 5], 6, 6, [(0, 6)]),
        ([0, 3, 5], 6, 2, [(0, 3), (3, 5), (5, 6)]),  # a lead longer than a chunk goes alone
        ([0, 1], 9, 2, [(0, 1), (1, 9)]),
        ([], 0, 5, [(0, 0)]),  # no rows: one empty range, so the table is still made
    ],
)
def test_parts_are_whole_leads_of_at_most_a_chunk(
    starts: list[int], n: int, chunk: int, expected: list[tuple[int, int]]
) -> None:
    assert _parts(np.array(starts, dtype=np.int64), n, chunk) == expected


def test_an_undecided_row_and_the_one_after_it_are_kept_for_drop_idle() -> None:
    """`_moves` over a chunk with undecided conditions (NULL, decided later by the join): that row and the
    next one (whose comparison waits for the NULL's value) are kept, the rows repeating the decided
    conditions before them are dropped as without a NULL; a moving event's row and the row at T stay."""
    from leadscore.sql.stage_windows import MOVING

    at = 100
    ts = [1, 2, 3, 4, 5, 6, 1, 2, 3, at]
    ids = ["a"] * 6 + ["b"] * 4
    table = pa.table({"lead_id": ids, "_ls_ts": pa.array(ts, pa.int64()), MOVING: [False] * 8 + [True, False]})
    rows = Rows.of(table)
    c0 = [False, None, False, False, True, True, None, True, True, True]
    c1 = [False] * 10
    found = pa.table({"lead_id": ids, "_ls_t": pa.array(ts, pa.int64()), "_ls_c0": c0, "_ls_c1": c1})
    keep = frames._moves(rows, found, at)
    assert keep.tolist() == [False, True, True, False, True, False, True, True, True, True]
    # without the NULLs (decided as the join would), only the changes, the moving event and T
    decided = found.set_column(2, "_ls_c0", pa.array([bool(v) for v in c0]))
    assert frames._moves(rows, decided, at).tolist() == [False] * 4 + [True, False, False, True, True, True]


def test_a_condition_the_replay_cannot_read_yet_keeps_no_row() -> None:
    """`to: lead, from: recycled` is read only once the lead may be recycled: after its `lost` event, or
    from the start for a lead whose `stage` is recycled. Before, its value is FALSE in the table made
    without the idle rows (no row kept for it), at and after the event exact; every stage as the pure
    scorer's replay gives it (`check_against_oracles`)."""
    from datetime import timedelta

    from leadscore.domain.events import Event
    from leadscore.domain.lead import Lead
    from leadscore.domain.timeutil import to_micros
    from leadscore.model import parse_model
    from tests.sql.test_stage_windows import AT, check_against_oracles

    model = parse_model(
        """
format: 1
name: recycling
rules:
  - {id: visit, on: page_view, points: 15, within: 1d}
lifecycle:
  stages: [lead, mql]
  exits: [recycled]
  initial: lead
  transitions:
    - {to: mql, when: {score: total, gte: 30}}
    - {to: recycled, on: lost}
    - {to: lead, from: recycled, when: {score: total, lt: 20}}
"""
    )
    h = timedelta(hours=1)
    events = [
        Event("a", "page_view", AT - 30 * h, {}, "1"),  # 15 < 20: the condition holds, unread (never recycled yet)
        Event("a", "page_view", AT - 20 * h, {}, "2"),  # 30: mql
        Event("a", "lost", AT - 10 * h, {}, "3"),  # recycled; 30 in the day: not back yet
        Event("b", "page_view", AT - 30 * h, {}, "4"),  # recycled from the start: read, back to lead
    ]
    leads = [Lead("a", {}), Lead("b", {"stage": "recycled"})]
    got = check_against_oracles(model, leads, events)
    t = {k: to_micros(AT - k * h) for k in (30, 20, 10)}
    assert got.busy[("a", t[30])] == (False, True)  # exact, with the idle rows dropped by SQL
    assert ("a", t[30]) not in got.idle  # unread, FALSE: nothing changed from before the first event
    assert got.idle[("a", t[20])] == (True, False)
    assert got.idle[("a", t[10])] == (True, False)  # the lost event: read from here, exact
    assert got.idle[("a", to_micros(AT))] == (False, True)  # only the visit 20 h ago in the day: back to lead
    assert got.idle[("b", t[30])] == (False, True)


def test_an_epoch_sums_weights_are_duckdbs_within_an_ulp() -> None:
    """The weights of a half-life's epoch sums, made from the time in NumPy (`Rows.weights`), against the
    SQL `window_rules` writes for them, run in DuckDB: 1.0 at an epoch's first instant, 2 ** (P / h) just
    before the next, negative times floored to their epoch, within an ulp; 0.0 where the flag is false
    or NULL (the row at T)."""
    import duckdb

    from leadscore.sql.window_compiler import Frame
    from leadscore.sql.window_rules import floor_div

    period, h = 90 * 86_400_000_000, 30 * 86_400_000_000
    ts = [0, 1, period - 1, period, period + 1, -1, -period, -period - 1, 1_796_634_000_000_000, 123_456_789_012]
    flags = [True, True, True, True, False, True, True, True, None, True]
    table = pa.table({"lead_id": ["a"] * len(ts), "_ls_ts": pa.array(ts, pa.int64()), "_ls_f0": flags})
    got, flag = Rows.of(table).weights(Frame("epoch_sum", "_ls_rc0", period, 0, "_ls_f0", h))
    epoch = floor_div("_ls_ts", period)
    sql = f"power(CAST(2.0 AS DOUBLE), CAST(_ls_ts - {epoch} * {period} AS DOUBLE) / {float(h)!r})"
    con = duckdb.connect()
    con.register("t", table)
    expected = [r[0] for r in con.execute(f"SELECT CASE WHEN _ls_f0 THEN {sql} END FROM t").fetchall()]
    assert flag.tolist() == [bool(f) for f in flags]
    for g, e in zip(got.tolist(), expected, strict=True):
        assert g == 0.0 if e is None else abs(g - e) <= 2.0**-52 * e, (g, e)
    assert got[0] == 1.0 and got[3] == 1.0 and got[6] == 1.0 and 8.0 - 1e-11 < got[2] < 8.0


@settings(max_examples=examples(100), deadline=None)
@given(
    leads=st.lists(st.lists(st.integers(-30, 60), min_size=1, max_size=12), min_size=1, max_size=4),
    half_life=st.sampled_from([1, 2, 7, 10, 30]),
    flags=st.lists(st.booleans(), min_size=48, max_size=48),
)
def test_epoch_sums_are_fsum_of_their_weights(leads: list[list[int]], half_life: int, flags: list[bool]) -> None:
    """Each kept row's sum of its epoch's weights up to it, and each frame's from its start to the end of the
    start's epoch, in fixed point: `math.fsum` of the same weights, exactly (epochs of 20, frames of 20,
    ties and negative times); past the fixed point's limit the running sums, within 2 ** -50 of it."""
    import math

    from leadscore.sql.window_compiler import Frame

    ids = [f"l{k}" for k, times in enumerate(leads) for _ in times]
    ts = [t for times in leads for t in sorted(times)]
    table = pa.table({"lead_id": ids, "_ls_ts": pa.array(ts, pa.int64()), "_ls_f0": flags[: len(ts)]})
    frame = Frame("epoch_sum", "_ls_rc0", 20, 0, "_ls_f0", half_life)
    rows = Rows.of(table)
    start = rows.start(20)
    weights, _ = rows.weights(frame)
    epoch = np.floor_divide(np.array(ts), 20)

    def expected(lo: int, hi: int) -> float:  # rows [lo, hi), of the epoch and lead of row lo
        same = [j for j in range(lo, hi) if ids[j] == ids[lo] and epoch[j] == epoch[lo]]
        return math.fsum(float(weights[j]) for j in same)

    first = np.minimum(start, rows.n - 1)
    run_end = [next((j for j in range(f, rows.n) if ids[j] != ids[f] or epoch[j] != epoch[f]), rows.n) for f in first]
    run_start = [next(j for j in range(i + 1) if ids[j] == ids[i] and epoch[j] == epoch[i]) for i in rows.out]
    for limit in (frame_windows._FIXED_LIMIT, 0.0):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(frame_windows, "_FIXED_LIMIT", limit)
            seg = frame_windows._Segments(rows, 20)
            _, forward, backward = seg.sums(rows, frame, seg.at(rows.out, start), rows.out)
        want_f = [expected(s, i + 1) for s, i in zip(run_start, rows.out.tolist(), strict=True)]
        want_b = [expected(int(f), e) for f, e in zip(first, run_end, strict=True)]
        for got, want in ((forward, want_f), (backward, want_b)):
            if limit:
                assert got.tolist() == want
            else:
                assert all(abs(g - w) <= 2.0**-50 * w for g, w in zip(got.tolist(), want, strict=True))


def test_epoch_sums_past_one_lane_of_fixed_point_are_still_fsum_of_their_weights() -> None:
    """A lead's run of 400 rows in one epoch with weights up to 2 ** 7.9 (a sum past 2 ** 11, where one
    int64 lane of 2 ** 52 times each weight overflowed, and the b2b example's runs took the running sums):
    each sum is still `math.fsum` of its weights, exactly; and weights up to 2 ** 30 over 3 rows too."""
    import math

    from leadscore.sql.window_compiler import Frame

    for n, period, half_life in ((400, 400, 51), (3, 31, 1)):
        ts = [int(t) for t in np.linspace(0, period - 1, n)]
        table = pa.table({"lead_id": ["a"] * n, "_ls_ts": pa.array(ts, pa.int64()), "_ls_f0": [True] * n})
        frame = Frame("epoch_sum", "_ls_rc0", period, 0, "_ls_f0", half_life)
        rows = Rows.of(table)
        start = rows.start(period)
        weights, _ = rows.weights(frame)
        seg = frame_windows._Segments(rows, period)
        assert seg.longest * float(weights.max()) < frame_windows._FIXED_LIMIT
        assert seg.longest * float(weights.max()) > 2.0**11 or n == 3
        _, forward, backward = seg.sums(rows, frame, seg.at(rows.out, start), rows.out)
        out = rows.out.tolist()
        assert forward.tolist() == [math.fsum(weights[: i + 1].tolist()) for i in out]
        assert backward.tolist() == [math.fsum(weights[int(f) :].tolist()) for f in np.minimum(start, n - 1)]
        assert seg._done == {}  # no running sum made


@settings(max_examples=examples(50), deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.integers(-5, 5),
            st.lists(st.none() | st.booleans(), min_size=40, max_size=40),
            st.sampled_from(["x", "y", "z", None]),
        ),
        max_size=30,
    ),
    n_flags=st.sampled_from([1, 29, 30, 31, 40]),
)
def test_packed_rows_give_the_flags_and_leads_of_the_taken_table(
    rows: list[tuple[str, int, list[bool | None], str | None]], n_flags: int
) -> None:
    """A part of the rows gathered from the packed arrays (`Packed`, flags 32 to a word) reads each flag
    (FALSE where NULL), each lead and each time as the same rows taken from the Arrow table; a flag of
    types alone is true where the row's type is one of them (never at a NULL type, the row at T)."""
    from leadscore.bulk.frame_rows import Packed
    from leadscore.bulk.frame_windows import coded

    cols: dict[str, pa.Array] = {"lead_id": pa.array([r[0] for r in rows], pa.string())}
    cols["_ls_ts"] = pa.array([r[1] for r in rows], pa.int64())
    cols["type"] = pa.array([r[3] for r in rows], pa.string())
    for k in range(n_flags):
        cols[f"_ls_f{k}"] = pa.array([r[2][k] for r in rows], pa.bool_())
    types = {"_ls_t0": ("x",), "_ls_t1": ("x", "z"), "_ls_t2": ()}
    table = coded(pa.table(cols))
    assert Packed.fits(table)
    order, _ = _lead_order(table)
    packed = Packed(table, types)
    got, want = packed.rows(order), Rows.of(table.take(order))
    assert got.ts.tolist() == want.ts.tolist() and got.out.tolist() == want.out.tolist()
    taken = row_lead_ids(table.take(order), want.out)
    assert packed.lead_ids(got, got.out).to_pylist() == taken.to_pylist()
    for k in range(n_flags):
        assert got.flag(f"_ls_f{k}").tolist() == want.flag(f"_ls_f{k}").tolist()
        assert want.flag(f"_ls_f{k}").tolist() == [bool(rows[i][2][k]) for i in order]
    for name, of in types.items():
        assert got.flag(name).tolist() == [rows[i][3] in of for i in order]
    assert not Packed.fits(table.append_column("x", pa.array([1] * len(rows), pa.int64())))
