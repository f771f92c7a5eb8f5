"""Sales-queue order: playbook priority, then total score, then lead id; no-priority and no-playbook last."""

from __future__ import annotations

from datetime import UTC, datetime

from leadscore.domain import Event, Lead, PlaybookMatch, Result
from leadscore.engine import score_many
from leadscore.model import parse_model
from leadscore.triggers.queue_order import queue_key, sales_queue

AT = datetime(2026, 6, 1, tzinfo=UTC)


def result(lead_id: str, score: float, priority: int | None = None, playbook: bool = True) -> Result:
    match = PlaybookMatch(0, "call", priority) if playbook else None
    return Result(lead_id, AT, "m", "v", score, {"score": score}, {}, None, (), match)


def ids(results: list[Result]) -> list[str]:
    return [r.lead_id for r in results]


def test_priority_first_then_score_then_id() -> None:
    results = [
        result("c", 10, priority=2),
        result("b", 5, priority=1),
        result("a", 50, priority=2),
        result("d", 50, priority=2),
        result("e", 1, priority=1),
    ]
    assert ids(sales_queue(results)) == ["b", "e", "a", "d", "c"]


def test_unprioritised_playbooks_after_prioritised_and_no_playbook_last() -> None:
    results = [
        result("none-high", 999, playbook=False),
        result("free-high", 500, priority=None),
        result("p9-low", -40, priority=9),
        result("free-low", 3, priority=None),
        result("none-low", -5, playbook=False),
    ]
    assert ids(sales_queue(results)) == ["p9-low", "free-high", "free-low", "none-high", "none-low"]


def test_order_does_not_depend_on_input_order() -> None:
    results = [result(f"l{i}", i % 3, priority=(i % 2) or None) for i in range(12)]
    assert ids(sales_queue(results)) == ids(sales_queue(reversed(results)))
    assert sorted(results, key=queue_key) == sales_queue(results)


def test_queue_over_scored_leads() -> None:
    model = parse_model(
        """
format: 1
name: q
rules:
  - {id: demo, on: demo_request, points: 50}
  - {id: visit, on: page_view, points: 5}
playbooks:
  - {when: {score: total, gte: 50}, priority: 1, action: Call now}
  - {when: {score: total, gt: 0}, action: Nurture}
"""
    )
    leads = [Lead.of(x) for x in ("cold", "visitor", "hot-b", "hot-a")]
    events = [
        Event.of("hot-a", "demo_request", "2026-05-01"),
        Event.of("hot-b", "demo_request", "2026-05-01"),
        Event.of("hot-b", "page_view", "2026-05-02"),
        Event.of("visitor", "page_view", "2026-05-02"),
    ]
    queue = sales_queue(score_many(model, leads, events, AT))
    assert ids(queue) == ["hot-b", "hot-a", "visitor", "cold"]
    assert [r.playbook.action if r.playbook else None for r in queue] == ["Call now", "Call now", "Nurture", None]
