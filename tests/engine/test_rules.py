"""Rule semantics of MODEL-FORMAT.md, one behaviour per test."""

from __future__ import annotations

import math

import pytest

from tests.engine.helpers import ev, model, points, run


def test_event_rule_counts_each_matching_event() -> None:
    m = model([{"id": "buy", "on": "purchase", "where": {"category": "shoes"}, "points": 20}])
    r = run(
        m,
        [
            ev("purchase", "2026-05-01", category="shoes"),
            ev("purchase", "2026-05-02", category="shoes"),
            ev("purchase", "2026-05-03", category="laces"),
        ],
    )
    assert r.score == 40
    assert r.breakdown[0].events == 2


def test_event_rule_on_a_list_of_types() -> None:
    m = model([{"id": "mail", "on": ["email_open", "email_click"], "points": 2}])
    assert run(m, [ev("email_open", "2026-05-01"), ev("email_click", "2026-05-02"), ev("x", "2026-05-02")]).score == 4


def test_window_is_open_at_the_start_and_closed_at_the_end() -> None:
    m = model([{"id": "visit", "on": "page_view", "within": "1d", "points": 1}])
    at = "2026-06-01T00:00:00Z"
    exactly_one_day = ev("page_view", "2026-05-31T00:00:00Z")
    just_inside = ev("page_view", "2026-05-31T00:00:00.000001Z")
    at_t = ev("page_view", at)
    after_t = ev("page_view", "2026-06-01T00:00:00.000001Z")
    r = run(m, [exactly_one_day, just_inside, at_t, after_t], at=at)
    assert r.score == 2
    assert r.breakdown[0].events == 2


def test_events_after_at_change_nothing() -> None:
    m = model([{"id": "visit", "on": "page_view", "points": 1}])
    assert run(m, [ev("page_view", "2026-06-02")]).score == 0


def test_same_id_counts_once_first_seen_wins() -> None:
    m = model([{"id": "buy", "on": "purchase", "where": {"category": "shoes"}, "points": 20}])
    first = ev("purchase", "2026-05-01", id="e1", category="shoes")
    second = ev("purchase", "2026-05-02", id="e1", category="laces")
    assert run(m, [first, second]).score == 20
    assert run(m, [second, first]).score == 0


def test_exact_copies_without_id_count_once() -> None:
    m = model([{"id": "buy", "on": "purchase", "points": 5}])
    e = ev("purchase", "2026-05-01", amount=10)
    assert run(m, [e, ev("purchase", "2026-05-01", amount=10.0)]).score == 5
    assert run(m, [e, ev("purchase", "2026-05-01", amount=11)]).score == 10


def test_limit_caps_in_the_rules_own_sign() -> None:
    m = model(
        [
            {"id": "open", "on": "email_open", "points": 1, "limit": 3},
            {"id": "bounce", "on": "email_bounce", "points": -10, "limit": 15},
        ]
    )
    events = [ev("email_open", f"2026-05-0{d}") for d in range(1, 6)] + [
        ev("email_bounce", f"2026-05-0{d}") for d in (1, 2)
    ]
    p = points(run(m, events))
    assert p == {"open": 3, "bounce": -15}


def test_once_keeps_the_most_recent_matching_event() -> None:
    m = model([{"id": "demo", "on": "demo_request", "once": True, "points": 50, "decay": {"half_life": "10d"}}])
    r = run(m, [ev("demo_request", "2026-05-01"), ev("demo_request", "2026-05-22")])
    assert r.score == pytest.approx(50 * 0.5 ** (10 / 10))
    assert r.breakdown[0].events == 2


def test_half_life_and_linear_decay() -> None:
    m = model(
        [
            {"id": "hl", "on": "a", "points": 40, "decay": {"half_life": "30d"}},
            {"id": "lin", "on": "b", "points": 90, "decay": {"linear": "90d"}},
        ]
    )
    p = points(run(m, [ev("a", "2026-05-02"), ev("b", "2026-05-02"), ev("b", "2026-01-01")]))
    assert p["hl"] == pytest.approx(20.0)
    assert p["lin"] == pytest.approx(90 * (1 - 30 / 90))


def test_filter_then_window_then_once_then_decay_then_limit() -> None:
    m = model(
        [
            {
                "id": "r",
                "on": "a",
                "where": {"k": 1},
                "within": "20d",
                "points": 10,
                "limit": 15,
                "decay": {"linear": "40d"},
            }
        ]
    )
    events = [
        ev("a", "2026-05-30", k=1),
        ev("a", "2026-05-22", k=1),
        ev("a", "2026-05-01", k=1),
        ev("a", "2026-05-31", k=2),
    ]
    expected = min(10 * (1 - 2 / 40) + 10 * (1 - 10 / 40), 15)
    assert run(m, events).score == pytest.approx(expected)


def test_attribute_predicates_without_coercion() -> None:
    def holds(when: dict[str, object], **attrs: object) -> bool:
        return run(model([{"id": "c", "when": when, "points": 1}]), **attrs).score == 1

    assert holds({"attribute": "employees", "between": [100, 200]}, employees=100.0)
    assert not holds({"attribute": "employees", "between": [100, 200]}, employees="150")
    assert not holds({"attribute": "employees", "eq": 1}, employees=True)
    assert holds({"attribute": "role", "contains": "DIREC"}, role="Sales director")
    assert not holds({"attribute": "role", "eq": "director"}, role="Director")
    assert holds({"attribute": "email", "matches": r"@acme\.com$"}, email="a@acme.com")
    assert not holds({"attribute": "employees", "contains": "1"}, employees=100)
    assert not holds({"attribute": "x", "ne": "a"})
    assert not holds({"attribute": "x", "not_in": ["a"]})
    assert holds({"attribute": "x", "exists": False})
    assert not holds({"attribute": "x", "exists": False}, x=0)
    assert holds({"attribute": "x", "gt": "b"}, x="c")
    assert not holds({"attribute": "x", "gt": 1}, x="c")
    assert holds({"attribute": "x", "in": [1, "a"]}, x=1.0)
    assert holds({"attribute": "x", "gte": 10, "lt": 20}, x=10)
    assert not holds({"attribute": "x", "gte": 10, "lt": 20}, x=20)


def test_count_aggregates_and_missing_values() -> None:
    def holds(when: dict[str, object], events: list[object]) -> bool:
        return run(model([{"id": "c", "when": when, "points": 1}]), events).score == 1  # type: ignore[arg-type]

    buys = [
        ev("purchase", "2026-05-01", amount=200),
        ev("purchase", "2026-04-01", amount=100),
        ev("purchase", "2026-03-01", amount="n/a"),
        ev("purchase", "2026-03-02"),
    ]
    assert holds({"count": "purchase", "gte": 4}, buys)
    assert holds({"sum": "amount", "of": "purchase", "eq": 300}, buys)
    assert holds({"avg": "amount", "of": "purchase", "eq": 150}, buys)
    assert holds({"min": "amount", "of": "purchase", "eq": 100}, buys)
    assert holds({"max": "amount", "of": "purchase", "within": "45d", "eq": 200}, buys)
    assert holds({"sum": "amount", "of": "purchase", "eq": 0}, [])
    assert not holds({"min": "amount", "of": "purchase", "lt": 1e9}, [])
    assert holds({"min": "amount", "of": "purchase", "exists": False}, [])


def test_absence_and_recency() -> None:
    def holds(when: dict[str, object], events: list[object]) -> bool:
        return run(model([{"id": "c", "when": when, "points": 1}]), events).score == 1  # type: ignore[arg-type]

    old = [ev("email_open", "2026-02-01")]
    assert holds({"none": "email_open", "within": "90d"}, old)
    assert holds({"none": "email_open", "within": "90d"}, [])
    assert not holds({"none": "email_open"}, old)
    assert holds({"last": "email_open", "older_than": "90d"}, old)
    assert not holds({"last": "email_open", "newer_than": "90d"}, old)
    assert not holds({"last": "email_open", "older_than": "1d"}, [])
    boundary = [ev("email_open", "2026-05-31T00:00:00Z")]
    assert holds({"last": "email_open", "older_than": "1d"}, boundary)
    assert not holds({"last": "email_open", "newer_than": "1d"}, boundary)


def test_boolean_conditions() -> None:
    when = {
        "all": [
            {"attribute": "a", "eq": 1},
            {"any": [{"attribute": "b", "eq": 1}, {"not": {"attribute": "c", "exists": True}}]},
        ]
    }
    m = model([{"id": "c", "when": when, "points": 1}])
    assert run(m, a=1, b=1, c=1).score == 1
    assert run(m, a=1).score == 1
    assert run(m, a=1, c=1).score == 0


def test_floor_and_cap_entries_make_the_breakdown_add_up() -> None:
    m = model(
        [
            {"id": "open", "dimension": "engagement", "on": "email_open", "points": 40},
            {"id": "bounce", "dimension": "fit", "on": "email_bounce", "points": -70},
        ],
        dimensions={"engagement": {"cap": 100}, "fit": {"floor": -50}},
    )
    r = run(m, [ev("email_open", f"2026-05-0{d}") for d in range(1, 4)] + [ev("email_bounce", "2026-05-01")])
    assert r.dimensions == {"engagement": 100, "fit": -50}
    assert r.score == 50
    assert [(b.rule, b.points) for b in r.breakdown] == [
        ("open", 120),
        ("bounce", -70),
        ("cap:engagement", -20),
        ("floor:fit", 20),
    ]
    assert math.fsum(b.points for b in r.breakdown) == r.score


def test_breakdown_lists_only_non_zero_rules_in_model_order() -> None:
    m = model(
        [
            {"id": "b", "on": "x", "points": 1},
            {"id": "a", "when": {"attribute": "k", "exists": True}, "points": 5},
            {"id": "zero", "on": "y", "points": 0},
        ]
    )
    r = run(m, [ev("x", "2026-05-01"), ev("y", "2026-05-01")], k=1)
    assert [b.rule for b in r.breakdown] == ["b", "a"]
    assert r.breakdown[1].events is None
