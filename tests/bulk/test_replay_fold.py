"""`bulk.replay_fold`: the lifecycle replay's fold made in NumPy. A store run's result rows (`rescore._batch_run`
with `split`: the scoring query, the conditions table, the replay) are the same column by column whether the
replayed leads' fold comes from the arrays or from the replay's SQL pass over their events (the oracle),
on generated models and busy data (ties in time everywhere included) and on hand-made histories; a lead
whose events at one time the arrays cannot order is left to the SQL pass."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given

from leadscore.batch.duckdb.run import RESULT, connect
from leadscore.bulk import replay_fold, rescore
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.model import ModelError, ScoringModel, parse_model, validate_model
from tests.batch.tables import events_table, leads_table
from tests.sql.test_stage_windows import AT, AT_US, SETTINGS
from tests.support.strategies import edge_busy_data, edge_lifecycle_models

H = timedelta(hours=1)


def _rows(
    model: ScoringModel, leads: list[Lead], events: list[Event], folded: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[tuple[Any, ...]], replay_fold.Folded | None]:
    """The run's result rows by lead, and what the fold left to the SQL pass (None: every lead there)."""
    made: list[replay_fold.Folded | None] = [None]
    real = replay_fold.fold_table

    def fold(*args: Any) -> replay_fold.Folded | None:
        made[0] = real(*args) if folded else None
        return made[0]

    with monkeypatch.context() as m:
        m.setattr(replay_fold, "fold_table", fold)
        con = connect(1)
        try:
            rescore._batch_run(model, leads_table(leads), events_table(events), AT_US, con, True, True)
            rows = con.execute(f"SELECT * FROM {RESULT} ORDER BY lead_id").fetchall()
        finally:
            con.close()
    return rows, made[0]


def check(model: ScoringModel, leads: list[Lead], events: list[Event], mp: pytest.MonkeyPatch) -> Any:
    got, made = _rows(model, leads, events, True, mp)
    want, _ = _rows(model, leads, events, False, mp)
    assert got == want
    return made


@pytest.mark.slow
@SETTINGS
@given(edge_lifecycle_models(), edge_busy_data())
def test_the_fold_from_the_arrays_gives_the_sql_passs_rows(model_data: dict[str, Any], sample: Any) -> None:
    _generated(model_data, sample)


@pytest.mark.slow
@SETTINGS
@given(edge_lifecycle_models(), edge_busy_data(instants=3))
def test_the_fold_from_the_arrays_gives_the_sql_passs_rows_at_shared_instants(
    model_data: dict[str, Any], sample: Any
) -> None:
    _generated(model_data, sample)


def _generated(model_data: dict[str, Any], sample: Any) -> None:
    try:
        model = validate_model(model_data)
    except ModelError:
        return
    with pytest.MonkeyPatch.context() as mp:
        check(model, *sample, mp)


MODEL = """
format: 1
name: fold
rules:
  - {id: visit, on: visit, points: 10}
lifecycle:
  stages: [lead, mql, sql]
  exits: [lost]
  initial: lead
  transitions:
    - {to: mql, when: {score: total, gte: 20}}
    - {to: sql, on: accepted, from: [lead]}
    - {to: lost, on: lose}
"""


def _ev(lead: str, typ: str, before: timedelta, eid: str, **props: Any) -> Event:
    return Event(lead, typ, AT - before, props, eid)


def test_hand_made_histories(monkeypatch: pytest.MonkeyPatch) -> None:
    """a: two visits make it an MQL, `accepted` (from lead only) then moves nothing: mql. b: accepted first
    (sql), then the visits: sql stays (no transition from sql). c: `stage_set` to lost, then visits: lost.
    d: no event: lead."""
    model = parse_model(MODEL)
    events = [
        _ev("a", "visit", 5 * H, "a1"),
        _ev("a", "visit", 4 * H, "a2"),
        _ev("a", "accepted", 3 * H, "a3"),
        _ev("b", "accepted", 5 * H, "b1"),
        _ev("b", "visit", 4 * H, "b2"),
        _ev("b", "visit", 3 * H, "b3"),
        _ev("c", "visit", 5 * H, "c1"),
        _ev("c", "stage_set", 4 * H, "c2", stage="lost"),
        _ev("c", "visit", 3 * H, "c3"),
    ]
    leads = [Lead(x, {}) for x in "abcd"]
    made = check(model, leads, events, monkeypatch)
    con = connect(1)
    try:
        rescore._batch_run(model, leads_table(leads), events_table(events), AT_US, con, True, True)
        stages = dict(con.execute(f"SELECT lead_id, stage FROM {RESULT} ORDER BY lead_id").fetchall())
    finally:
        con.close()
    assert stages == {"a": "mql", "b": "sql", "c": "lost", "d": "lead"}
    assert made is not None and made.left == 0


def test_a_condition_changing_at_a_moving_events_time_leaves_the_lead_to_the_sql_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second visit (the score reaches 20: mql) and `accepted` (from lead only) at one instant: the
    stage depends on their input order, which the arrays do not hold; the SQL pass decides (sql when
    `accepted` comes first, mql otherwise), and the rows are the oracle's either way."""
    model = parse_model(MODEL)
    for first, want in (("accepted", "sql"), ("visit", "mql")):
        second = "visit" if first == "accepted" else "accepted"
        events = [
            _ev("a", "visit", 5 * H, "a1"),
            _ev("a", first, 3 * H, "a2"),
            _ev("a", second, 3 * H, "a3"),
        ]
        made = check(model, [Lead("a", {})], events, monkeypatch)
        assert made is not None and made.left == 1
        con = connect(1)
        try:
            rescore._batch_run(model, leads_table([Lead("a", {})]), events_table(events), AT_US, con, True, True)
            assert con.execute(f"SELECT stage FROM {RESULT}").fetchall() == [(want,)]
        finally:
            con.close()
