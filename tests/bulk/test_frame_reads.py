"""`bulk.frame_reads`: the score conditions evaluated only where the replay may read them. The stage and
history from the table made so are the pure scorer's replay, lead by lead (`check_against_oracles`), on
generated models whose stages are entered again (a recycled lead back to `lead`, event transitions back,
`stage_set`) and on hand-made histories; the rounds evaluate fewer rows than the part has; the rows
closed after a hold are those a plain loop finds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.bulk import frame_reads, frame_rows, frame_windows
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.model import parse_model
from leadscore.sql.window_compiler import Frame
from tests.sql.test_stage_windows import AT, SETTINGS, check_against_oracles, check_generated
from tests.support.profiles import examples
from tests.support.strategies import EDGE_EXITS, EDGE_STAGES, edge_busy_data, edge_lifecycle_models

H = timedelta(hours=1)


@settings(max_examples=examples(200), deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans()), max_size=40),
)
def test_a_row_is_closed_after_a_hold_until_a_reopening(rows: list[tuple[int, bool, bool]]) -> None:
    """`_closed` against a loop: a row is closed when an earlier row of its lead held and no row after
    that one, up to the row itself, reopens (a reopening at the held row itself does not count)."""
    rows = sorted(rows, key=lambda r: r[0])  # grouped by lead
    lead = np.array([r[0] for r in rows], dtype=np.int64)
    held = np.array([r[1] for r in rows], dtype=bool)
    reopen = np.array([r[2] for r in rows], dtype=bool)
    got = frame_reads._closed(held, reopen, frame_reads._firsts(lead)).tolist() if rows else []
    assert got == [_closed_by_loop(lead, held, reopen, j) for j in range(len(rows))]


def _closed_by_loop(lead: np.ndarray, held: np.ndarray, reopen: np.ndarray, j: int) -> bool:
    reopened = False  # some row after the one looked at, up to j, reopens
    for i in range(j, -1, -1):
        if lead[i] != lead[j]:
            return False
        if i < j and held[i] and not reopened:
            return True
        reopened = reopened or bool(reopen[i])
    return False


@settings(max_examples=examples(60), deadline=None)
@given(
    leads=st.lists(st.lists(st.integers(-30, 60), min_size=1, max_size=12), min_size=1, max_size=4),
    flags=st.lists(st.booleans(), min_size=48, max_size=48),
    picks=st.lists(st.booleans(), min_size=48, max_size=48),
)
def test_the_aggregates_at_some_rows_are_those_at_every_row(
    leads: list[list[int]], flags: list[bool], picks: list[bool]
) -> None:
    """`Aggregates.at` at some kept rows, after other calls, gives the values `arrays` gives there: counts,
    latest times, sums of times and epoch sums (their own and before parts, and the parity's value)."""
    ids = [f"l{k}" for k, times in enumerate(leads) for _ in times]
    ts = [t for times in leads for t in sorted(times)]
    table = pa.table({"lead_id": ids, "_ls_ts": pa.array(ts, pa.int64()), "_ls_f0": flags[: len(ts)]})
    frames = {
        "n": Frame("count", "_ls_f0", 20),
        "all": Frame("count", "TRUE", None),
        "last": Frame("max_ts", "_ls_f0", 7),
        "sum": Frame("sum_ts", "_ls_f0", 15),
        "e0": Frame("epoch_sum", "_ls_rc0", 20, 0, "_ls_f0", 7),
        "e1": Frame("epoch_sum", "_ls_rc1", 20, 1, "_ls_f0", 7),
    }
    rows, whole = frame_windows.arrays(frame_rows.Rows.of(table), frames, nulls=False)
    sel = np.flatnonzero(np.array(picks[: len(rows.out)], dtype=bool))
    aggs = frame_windows.Aggregates(rows, nulls=False)
    aggs.at(frames, sel[::2])  # (another call first: its caches must not leak into the next)
    got = aggs.at(frames, sel)
    for alias, col in whole.items():
        mine = got[alias]
        if isinstance(col, tuple):
            assert isinstance(mine, tuple)
            assert mine[0].tolist() == col[0][sel].tolist(), alias
            assert (mine[1] is None) == (col[1] is None)
            if col[1] is not None and mine[1] is not None:
                assert mine[1].tolist() == col[1][sel].tolist(), alias
        else:
            assert not isinstance(mine, tuple) and not isinstance(col, pa.Array) and not isinstance(mine, pa.Array)
            assert mine.value().tolist() == col.value()[sel].tolist(), alias
            assert mine.own.tolist() == col.own[sel].tolist() and mine.before.tolist() == col.before[sel].tolist()


@st.composite
def reentered_models(draw: Any) -> dict[str, Any]:
    """`edge_lifecycle_models` with stages entered again: a recycled lead back to `lead` by a score
    condition, an event that recycles it, and an event transition back to `lead` from anywhere."""
    model = draw(edge_lifecycle_models())
    trs = model["lifecycle"]["transitions"]
    trs.append({"to": "recycled", "on": "lost"})
    trs.append({"to": "lead", "from": ["recycled"], "when": {"score": "total", "lt": draw(st.sampled_from([5, 20]))}})
    if draw(st.booleans()):
        trs.append({"to": draw(st.sampled_from(EDGE_STAGES + EDGE_EXITS)), "on": "won"})
    return model


REENTERED = """
format: 1
name: reentered
rules:
  - {id: visit, on: view, points: 10, within: 2d, decay: {half_life: 1d}}
  - {id: big, when: {attribute: employees, gte: 100}, points: 5}
lifecycle:
  initial: lead
  exits: [recycled]
  stages: [lead, mql, sql]
  transitions:
    - {to: mql, when: {score: total, gte: 15}}
    - {to: recycled, on: lost}
    - {to: lead, from: [recycled], when: {score: total, lt: 6}}
"""


def _ev(lead: str, typ: str, before: timedelta, eid: str, **props: Any) -> Event:
    return Event(lead, typ, AT - before, props, eid)


def test_a_hold_ends_the_reading_until_an_event_brings_the_lead_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lead a becomes an MQL at its second view; its later views are not evaluated for the score; a
    `lost` recycles it, its reading starts again there (the recycled condition, then the MQL one once
    it is back to `lead`); lead b has an initial stage of `recycled` (a stage that leads back)."""
    model = parse_model(REENTERED)
    evaluated: list[int] = []
    real = frame_windows.Aggregates.at

    def counted(self: Any, frames: Any, sel: Any = None, starts: Any = None) -> Any:
        if sel is not None and any(f.kind == "count" for f in frames.values()):  # (the bounds' call, at every row)
            evaluated.append(len(sel))
        return real(self, frames, sel, starts)

    monkeypatch.setattr(frame_windows.Aggregates, "at", counted)
    monkeypatch.setattr(frame_reads, "FIRST_ROUND", 1)
    views = [_ev("a", "view", (100 - k) * H, f"v{k}") for k in range(0, 40, 2)]
    events = [
        *views,
        _ev("a", "lost", 50 * H, "x"),
        *(_ev("a", "view", (49 - k) * H, f"w{k}") for k in range(0, 40, 3)),
    ]
    events += [_ev("b", "view", (90 - k) * H, f"b{k}") for k in range(0, 30, 5)]
    leads = [Lead("a", {}), Lead("b", {"stage": "recycled"})]
    got = check_against_oracles(model, leads, events)
    rows = len({t for lid, t in got.busy if lid == "a"} | {t for lid, t in got.frames if lid == "a"})
    rows += len({t for lid, t in got.frames if lid == "b"})
    assert 0 < sum(evaluated) < rows


@pytest.mark.slow
@SETTINGS
@given(reentered_models(), edge_busy_data())
def test_stages_entered_again_keep_the_pure_replay(model_data: dict[str, Any], sample: Any) -> None:
    check_generated(model_data, sample)
