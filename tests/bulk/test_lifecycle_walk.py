"""The walk over the rows that can move a stage (`bulk.lifecycle_walk`) against the replay over every
event and every time's conditions (`bulk.condition_replay.replay`, itself compared with the pure
scorer's replay in tests/sql/test_stage_windows.py).

`walk_rows` builds the rows as `lifecycle_walk.prepare` does in SQL (moving events with `again` and the
conditions at their time, condition rows with a condition that holds and other conditions than the row
before them); the store-level tests (tests/bulk/test_lifecycle.py) run the SQL itself against the pure
path.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.bulk.condition_replay import Step, replay
from leadscore.bulk.lifecycle_walk import CONDITIONS, EVENT, Cols, Walker
from leadscore.domain.timeutil import to_micros
from leadscore.engine.lifecycle_replay import STAGE_SET, CompiledLifecycle
from leadscore.model import ModelError, parse_model, validate_model
from tests.support.profiles import examples
from tests.support.strategies import edge_lifecycle_models

AT = 1_000


def walk_rows(walker: Walker, steps: list[Step], conds: dict[int, tuple[bool, ...]]) -> tuple[Cols, int]:
    """The rows of one lead as `prepare` makes them, and the time of its first event (T if none)."""

    def mask(t: int) -> int:
        return sum(1 << k for k, v in enumerate(conds.get(t, ())) if v)

    rows: list[tuple[int, int, int, str | None, str | None, str | None, bool, int]] = []
    for o, (t, typ, eid, target) in enumerate(steps):
        if typ in walker.moving:
            again = any(s[0] == t for s in steps[:o])
            rows.append((t, EVENT, o, typ, eid, target, again, mask(t)))
    for t in conds:
        if mask(t):
            rows.append((t, CONDITIONS, -1, None, None, None, False, mask(t)))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    kept = [r for i, r in enumerate(rows) if r[1] == EVENT or i == 0 or rows[i - 1][7] != r[7]]
    cols: Cols = (
        [r[0] for r in kept],
        [r[1] for r in kept],
        [r[3] for r in kept],
        [r[4] for r in kept],
        [r[5] for r in kept],
        [r[6] for r in kept],
        [r[7] for r in kept],
    )
    return cols, steps[0][0] if steps else AT


def lifecycle(draw: Any) -> CompiledLifecycle:
    """A lifecycle of the edge models (a plain one where the drawn model is invalid)."""
    data = draw(edge_lifecycle_models())
    try:
        model = validate_model(data)
    except ModelError:
        model = parse_model(
            "format: 1\nname: x\nrules: [{id: a, points: 1, on: [x]}]\nlifecycle:\n  stages: [lead, mql, sql]\n"
            "  transitions:\n    - {to: mql, when: {score: total, gte: 1}}\n    - {to: sql, on: [demo], from: [mql]}\n"
        )
    assert model.lifecycle is not None
    return CompiledLifecycle(model.lifecycle)


def lead_history(draw: Any, lc: CompiledLifecycle) -> tuple[str, list[Step], dict[int, tuple[bool, ...]]]:
    """One lead's initial stage, events and conditions by time under `lc`."""
    stages = sorted(lc.stages)
    types = sorted({t for etr in lc.event_transitions for t in etr.types} | {"view", "other", STAGE_SET})
    times = st.integers(0, 30).map(lambda x: x * 25)  # shared instants are common
    raw = draw(st.lists(st.tuples(times, st.sampled_from(types), st.sampled_from(stages)), max_size=25))
    raw.sort(key=lambda r: r[0])  # log order: by time, then as they came
    steps: list[Step] = [
        (t, typ, f"e{i}", target if typ == STAGE_SET else None) for i, (t, typ, target) in enumerate(raw)
    ]
    n = len(lc.auto)
    held = st.tuples(*(st.booleans() for _ in range(n)))
    conds = {t: draw(held) for t in sorted({s[0] for s in steps} | {AT}) if draw(st.integers(0, 4))}
    return draw(st.sampled_from(stages)), steps, conds


@st.composite
def histories(draw: Any) -> tuple[CompiledLifecycle, str, list[Step], dict[int, tuple[bool, ...]]]:
    lc = lifecycle(draw)
    return (lc, *lead_history(draw, lc))


@st.composite
def parts(draw: Any) -> tuple[CompiledLifecycle, list[tuple[str, list[Step], dict[int, tuple[bool, ...]]]]]:
    """A lifecycle and the histories of a part's leads under it."""
    lc = lifecycle(draw)
    return lc, [lead_history(draw, lc) for _ in range(draw(st.integers(0, 6)))]


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_the_walk_over_the_moving_rows_is_the_replay_over_every_event(case: Any) -> None:
    lc, init, steps, conds = case
    walker = Walker(lc)
    cols, start = walk_rows(walker, steps, conds)
    times = [-1]  # emptied first
    stage, history = walker.walk(init, start, cols, 0, len(cols[0]), times)
    assert (stage, history) == replay(lc, init, steps, conds, AT)
    assert times == [to_micros(c.at) for c in history]  # what the stored rows and texts read


def test_a_condition_that_stays_true_is_read_once_and_an_event_in_between_is_not_missed() -> None:
    model = parse_model(
        "format: 1\nname: x\nrules: [{id: a, points: 1, on: [x]}]\nlifecycle:\n  stages: [lead, mql, sql]\n"
        "  exits: [lost]\n  transitions:\n    - {to: mql, when: {score: total, gte: 1}}\n"
        "    - {to: lost, on: [unsubscribe]}\n    - {to: lead, on: [reopen], from: [lost]}\n"
    )
    assert model.lifecycle is not None
    lc = CompiledLifecycle(model.lifecycle)
    walker = Walker(lc)
    steps: list[Step] = [(10, "x", "a", None), (20, "unsubscribe", "b", None), (30, "reopen", "c", None)]
    conds = {10: (True,), 20: (True,), 30: (True,), AT: (True,)}
    cols, start = walk_rows(walker, steps, conds)
    assert cols[1] == [CONDITIONS, EVENT, EVENT]  # the same conditions at 30 and T: not read again
    stage, history = walker.walk("lead", start, cols, 0, 3)
    assert (stage, history) == replay(lc, "lead", steps, conds, AT)
    assert [(h.stage, h.cause) for h in history] == [
        ("lead", "initial"),
        ("mql", "auto"),
        ("lost", "event:unsubscribe"),
        ("lead", "event:reopen"),
        ("mql", "auto"),
    ]


def test_conditions_past_one_mask_word_keep_their_bits() -> None:
    """A model with more automatic transitions than a BIGINT holds: the bits travel in several words."""
    import duckdb

    from leadscore.bulk.lifecycle_walk import WALK, _mask_sql, part_rows

    n = 70
    con = duckdb.connect()
    held = ", ".join(f"(i = {k} OR (i = {n} AND {k} % 2 = 1)) AS _ls_c{k}" for k in range(n))
    con.execute(f"CREATE TABLE c AS SELECT i, {held} FROM range({n + 1}) AS r(i)")
    words = _mask_sql("c", n)
    assert len(words) == 2
    masks = ", ".join(f"{w} AS m{i}" for i, w in enumerate(words))
    con.execute(
        f"CREATE TEMP TABLE {WALK} AS SELECT 0 AS part, i AS n, i AS t, {CONDITIONS} AS kind, NULL AS o, "
        f"NULL AS type, NULL AS eid, NULL AS target, FALSE AS again, {masks} FROM c"
    )
    ns, cols = part_rows(con, 0, len(words))
    assert ns == list(range(n + 1))
    assert cols[6] == [1 << k for k in range(n)] + [sum(1 << k for k in range(1, n, 2))]


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts(), st.lists(st.booleans(), max_size=8))
def test_the_walk_of_a_whole_part_is_the_walk_of_each_lead(case: Any, gaps: list[bool]) -> None:
    """`walk_part` against `Walker.walk` lead by lead; rows of no lead (`gaps`) in between are skipped."""
    from leadscore.bulk.walk_part import Tables, walk_part

    lc, leads = case
    walker = Walker(lc)
    cols: Cols = ([], [], [], [], [], [], [])
    lead_of: list[int] = []
    expected = []
    for i, (init, steps, conds) in enumerate(leads):
        if i < len(gaps) and gaps[i]:  # a row of a lead handed to the pure scorer: -1
            gap, _ = walk_rows(walker, [(5, STAGE_SET, "g", "nowhere")], {})
            for mine, more in zip(cols, gap, strict=True):
                mine.extend(more)  # type: ignore[arg-type]
            lead_of.append(-1)
        lead_cols, start = walk_rows(walker, steps, conds)
        lo = len(cols[0])
        for mine, more in zip(cols, lead_cols, strict=True):
            mine.extend(more)  # type: ignore[arg-type]
        lead_of.extend([i] * len(lead_cols[0]))
        times: list[int] = []
        stage, history = walker.walk(init, start, cols, lo, len(cols[0]), times)
        expected.append((init, start, stage, [(c.stage, c.previous, c.cause, c.event_id) for c in history], times))
    import numpy as np

    got = walk_part(
        Tables(walker), [e[0] for e in expected], [e[1] for e in expected], np.asarray(lead_of, dtype=np.int64), cols
    )
    assert got is not None
    assert got.first[0] == 0 and len(got.first) == len(leads) + 1
    for i, (_, _, stage, history, times) in enumerate(expected):
        lo, hi = got.first[i], got.first[i + 1]
        assert got.stage[i] == stage
        assert (
            list(zip(got.to[lo:hi], got.previous[lo:hi], got.cause[lo:hi], got.event_id[lo:hi], strict=True)) == history
        )
        assert got.t[lo:hi] == times
