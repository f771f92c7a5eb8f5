"""A part's row of the history pass as the pure path's objects (`bulk.history_results`): the values a
part's leads share made once, the walk's changes as a history, the score before a trigger's window.
The results and firings themselves are compared with the pure path's in tests/bulk/test_lifecycle.py."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from leadscore.bulk.history_results import history_of, made_playbook, made_time, row_result, score_before
from leadscore.domain.result import PlaybookMatch, StageChange, StageColumns
from leadscore.domain.timeutil import from_micros
from leadscore.model.spec import Trigger


def test_times_and_playbooks_are_made_once_per_part() -> None:
    made: dict[Any, Any] = {}
    at = made_time(made, 5_000_000)
    assert at == from_micros(5_000_000) and made_time(made, 5_000_000) is at
    text = json.dumps({"index": 1, "action": "call", "priority": 2, "content": ["a"], "name": "hot"})
    playbook = made_playbook(made, text)
    assert playbook == PlaybookMatch(1, "call", 2, ("a",), "hot")
    assert made_playbook(made, text) is playbook
    assert made_playbook(made, None) is None


def test_a_leads_changes_are_its_history() -> None:
    columns = StageColumns(
        ["lead", "mql", "sql"],
        [None, "lead", "mql"],
        ["initial", "auto", "manual"],
        [None, None, "e1"],
        [1_000_000, 2_000_000, 3_000_000],
    )
    assert history_of(columns, 1, 3) == [
        StageChange("mql", from_micros(2_000_000), "lead", "auto"),
        StageChange("sql", from_micros(3_000_000), "mql", "manual", "e1"),
    ]


def test_a_rows_result_has_the_walks_history_and_no_breakdown() -> None:
    text = json.dumps({"index": 0, "action": "email", "priority": 1, "content": [], "name": "warm"})
    cols: dict[str, list[Any]] = {
        "lead_id": ["a"],
        "model": ["m"],
        "model_version": ["v1"],
        "score": [12.5],
        "dimensions": ['{"fit": 12.5}'],
        "labels": ['{"t": "warm"}'],
        "stage": ["mql"],
        "playbook": [text],
        "evaluated_at": [7_000_000],
    }
    history = [StageChange("mql", from_micros(7_000_000), None, "initial")]
    result = row_result(cols, 0, history, {})
    assert (result.lead_id, result.score, result.stage, result.at) == ("a", 12.5, "mql", from_micros(7_000_000))
    assert result.dimensions == {"fit": 12.5} and result.labels == {"t": "warm"}
    assert result.stage_history == tuple(history) and result.breakdown == ()
    assert result.playbook == PlaybookMatch(0, "email", 1, (), "warm")


def test_the_score_before_a_window_is_its_slots() -> None:
    """`befores` by window, `slots` each window's index: a trigger reads its own window's score."""
    day, week = int(timedelta(days=1).total_seconds() * 1e6), int(timedelta(days=7).total_seconds() * 1e6)
    before = score_before({day: 0, week: 1}, [3.0, 8.5])
    weekly = Trigger.model_validate({"id": "w", "on": "score_changed", "by": {"gte": 5}, "within": "7d"})
    assert weekly.within is not None and weekly.within.micros == week
    assert before(weekly) == 8.5
