"""The replay from the conditions' values (`bulk.condition_replay`): hand-computed histories (an
automatic move read at an event's time, an event transition, a `stage_set`, conditions absent or
shorter than the transitions read as false); against the pure scorer's replay of generated models
in tests/sql/test_stage_windows.py and against the walk in tests/bulk/test_lifecycle_walk.py."""

from __future__ import annotations

from leadscore.bulk.condition_replay import replay
from leadscore.domain.result import StageChange
from leadscore.domain.timeutil import from_micros
from leadscore.engine.scorer import Scorer
from leadscore.model import parse_model

MODEL = parse_model(
    """
format: 1
name: steps
rules:
  - {id: visit, on: page_view, points: 5}
lifecycle:
  stages: [lead, mql, sql]
  initial: lead
  transitions:
    - {to: mql, from: lead, when: {score: total, gte: 10}}
    - {to: sql, on: demo}
"""
)
LC = Scorer(MODEL).lifecycle
T1, T2, T3, AT = 1_000_000, 2_000_000, 3_000_000, 9_000_000


def test_conditions_events_and_stage_sets_make_the_history() -> None:
    """mql at T1 (its condition read true there), sql at the demo, lead again by hand at T3; at T3
    and T its condition is absent (false): the lead stays."""
    assert LC is not None
    steps = [(T1, "page_view", "e1", None), (T2, "demo", "e2", None), (T3, "stage_set", "e3", "lead")]
    stage, history = replay(LC, "lead", steps, {T1: (True,), T2: (True,)}, AT)
    assert stage == "lead"
    assert history == [
        StageChange("lead", from_micros(T1), None, "initial"),
        StageChange("mql", from_micros(T1), "lead", "auto"),
        StageChange("sql", from_micros(T2), "mql", "event:demo", "e2"),
        StageChange("lead", from_micros(T3), "sql", "manual", "e3"),
    ]


def test_a_condition_read_at_t_alone_moves_at_t() -> None:
    """No event: the history starts at T, and the condition true at T moves the lead there."""
    assert LC is not None
    stage, history = replay(LC, "lead", [], {AT: (True,)}, AT)
    assert stage == "mql"
    assert [(c.stage, c.at, c.cause) for c in history] == [
        ("lead", from_micros(AT), "initial"),
        ("mql", from_micros(AT), "auto"),
    ]


def test_missing_or_short_conditions_are_false() -> None:
    """A time without conditions, or with fewer values than transitions, moves nothing."""
    assert LC is not None
    steps = [(T1, "page_view", "e1", None)]
    assert replay(LC, "lead", steps, {}, AT)[0] == "lead"
    assert replay(LC, "lead", steps, {T1: ()}, AT)[0] == "lead"
