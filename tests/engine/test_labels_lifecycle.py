"""Labels, lifecycle replay and playbooks."""

from __future__ import annotations

from typing import Any

import pytest

from leadscore.engine import ScoringDataError
from tests.engine.helpers import ev, model, run

SEGMENTS = {
    "segment": [
        {"label": "ambassador", "when": {"score": "total", "gt": 45}},
        {"label": "engaged", "when": {"score": "total", "gt": 0}},
        {"label": "neutral", "when": {"score": "total", "eq": 0}},
        {"label": "not-engaged"},
    ],
    "nothing": [{"label": "never", "when": {"score": "total", "gt": 1e9}}],
}


def test_first_matching_band_wins_and_no_match_is_null() -> None:
    m = model(
        [{"id": "buy", "on": "purchase", "points": 20}, {"id": "bounce", "on": "email_bounce", "points": -30}],
        labels=SEGMENTS,
    )

    def label(events: list[Any]) -> str | None:
        return run(m, events).labels["segment"]

    assert label([ev("purchase", f"2026-05-0{d}") for d in (1, 2, 3)]) == "ambassador"
    assert label([ev("purchase", "2026-05-01")]) == "engaged"
    assert label([]) == "neutral"
    assert label([ev("email_bounce", "2026-05-01")]) == "not-engaged"
    assert run(m, []).labels["nothing"] is None


LIFECYCLE = {
    "stages": ["subscriber", "lead", "mql", "sql", "opportunity", "customer"],
    "exits": ["recycled", "disqualified", "lost"],
    "initial": "lead",
    "transitions": [
        {"to": "mql", "when": {"score": "total", "gte": 60}},
        {"to": "sql", "on": "sales_accepted"},
        {"to": "recycled", "on": "sales_rejected"},
        {"to": "opportunity", "on": "opportunity_created"},
        {"to": "customer", "on": "deal_won"},
        {"to": "lost", "on": "deal_lost"},
        {"to": "lead", "from": "recycled", "when": {"score": "total", "lt": 30}},
    ],
}
RULES = [{"id": "demo", "on": "demo_request", "points": 30, "within": "30d"}]


def test_mql_on_score_then_sql_on_event() -> None:
    m = model(RULES, lifecycle=LIFECYCLE)
    r = run(m, [ev("demo_request", "2026-05-01"), ev("demo_request", "2026-05-02"), ev("sales_accepted", "2026-05-03")])
    assert r.stage == "sql"
    assert [(h.stage, h.cause) for h in r.stage_history] == [
        ("lead", "initial"),
        ("mql", "auto"),
        ("sql", "event:sales_accepted"),
    ]


def test_automatic_transitions_never_move_back() -> None:
    m = model(RULES, lifecycle=LIFECYCLE)
    # MQL reached in April; by June the demos left the 30-day window and the score is 0: stays MQL
    r = run(m, [ev("demo_request", "2026-04-01"), ev("demo_request", "2026-04-02")])
    assert r.score == 0
    assert r.stage == "mql"


def test_exit_holds_a_lead_until_a_from_transition_releases_it() -> None:
    m = model(RULES, lifecycle=LIFECYCLE)
    events = [ev("demo_request", "2026-05-20"), ev("demo_request", "2026-05-21"), ev("sales_rejected", "2026-05-22")]
    assert run(m, events).stage == "recycled"  # score 60: no way back to lead, no auto promotion from an exit
    assert run(m, events, at="2026-06-25T00:00:00Z").stage == "lead"  # score fell under 30: recycled -> lead
    # automatic transitions run at event times and at T, not in between: an event on 07-01 (score 30)
    # does not release the lead, while one on 06-25 (score 0) does, and the demos then promote it
    demos = [ev("demo_request", "2026-07-01"), ev("demo_request", "2026-07-02")]
    assert run(m, [*events, *demos], at="2026-07-03").stage == "recycled"
    released = run(m, [*events, ev("page_view", "2026-06-25"), *demos], at="2026-07-03")
    assert [h.stage for h in released.stage_history] == ["lead", "mql", "recycled", "lead", "mql"]


def test_score_at_an_event_time_includes_every_event_of_that_instant() -> None:
    m = model(
        RULES,
        lifecycle={
            **LIFECYCLE,
            "transitions": [
                {"to": "sql", "on": "sales_accepted"},
                {"to": "mql", "when": {"score": "total", "gte": 60}},
            ],
        },
    )
    same = "2026-05-10T10:00:00Z"
    r = run(
        m,
        [ev("demo_request", same), ev("sales_accepted", "2026-05-11"), ev("demo_request", same, k=2)],
        at="2026-05-12",
    )
    assert [h.stage for h in r.stage_history] == ["lead", "mql", "sql"]


def test_stage_attribute_overrides_initial_and_bad_stage_is_refused() -> None:
    m = model(RULES, lifecycle=LIFECYCLE)
    assert run(m, [], stage="customer").stage == "customer"
    assert run(m, [], stage="subscriber").stage == "subscriber"
    with pytest.raises(ScoringDataError, match="names no stage"):
        run(m, [], stage="prospect")


def test_manual_stage_set_moves_anywhere_then_automatic_rules_run() -> None:
    m = model(RULES, lifecycle=LIFECYCLE)
    r = run(
        m,
        [
            ev("deal_won", "2026-05-01"),
            ev("stage_set", "2026-05-02", stage="subscriber"),
            ev("demo_request", "2026-05-20"),
            ev("demo_request", "2026-05-21"),
        ],
    )
    assert r.stage == "mql"
    with pytest.raises(ScoringDataError):
        run(m, [ev("stage_set", "2026-05-02", stage="nowhere")])


def test_without_events_attributes_alone_promote_at_t() -> None:
    m = model(
        [{"id": "fit", "when": {"attribute": "employees", "between": [100, 200]}, "points": 100}], lifecycle=LIFECYCLE
    )
    r = run(m, [], employees=150)
    assert r.stage == "mql"


def test_event_transition_from_restriction() -> None:
    lc = {
        "stages": ["lead", "sql", "customer"],
        "transitions": [{"to": "customer", "from": "sql", "on": "deal_won"}, {"to": "sql", "on": "sales_accepted"}],
    }
    m = model(RULES, lifecycle=lc)
    assert run(m, [ev("deal_won", "2026-05-01")]).stage == "lead"
    assert run(m, [ev("sales_accepted", "2026-05-01"), ev("deal_won", "2026-05-02")]).stage == "customer"


def test_playbooks_first_match_with_labels_and_stage() -> None:
    m = model(
        RULES,
        labels=SEGMENTS,
        lifecycle=LIFECYCLE,
        playbooks=[
            {
                "when": {"all": [{"stage": {"in": ["mql", "sql"]}}, {"label": "segment", "eq": "ambassador"}]},
                "priority": 1,
                "action": "call now",
            },
            {"when": {"stage": "lead"}, "priority": 3, "action": "nurture"},
        ],
    )
    hot = run(m, [ev("demo_request", "2026-05-20"), ev("demo_request", "2026-05-21")])
    assert hot.playbook is not None and hot.playbook.action == "call now"
    cold = run(m, [])
    assert cold.playbook is not None and cold.playbook.priority == 3
    assert run(m, [ev("deal_won", "2026-05-01")]).playbook is None
