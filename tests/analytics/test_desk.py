"""The sales views on the hand-computed store: queue pages, a lead's story, outcomes, the model page."""

from __future__ import annotations

import math

import pytest

from leadscore.analytics import AnalyticsError
from leadscore.analytics.desk import Desk
from leadscore.analytics.queue import QueueFilter
from leadscore.app.errors import InvalidInput, NotFound
from leadscore.app.service import LeadService
from leadscore.domain import Lead
from leadscore.engine.timeline import Timeline
from leadscore.store.events_repo import load_timelines
from leadscore.triggers.queue_order import sales_queue


def test_keyset_pages_follow_the_sales_queue_order(hand_store: LeadService) -> None:
    desk = Desk(hand_store)
    expected = [r.lead_id for r in sales_queue([hand_store.result(i) for i in "ABCD"])]  # type: ignore[misc]
    seen: list[str] = []
    cursor = None
    while True:
        page = desk.queue(QueueFilter(), 25, cursor)
        seen += [r.lead_id for r in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected
    # all four have the `nurture` playbook (no priority): score decides, A 80, C 70, then B and D at 10
    assert expected == ["A", "C", "B", "D"]
    assert [r.lead_id for r in desk.queue(QueueFilter(label="temperature:hot")).rows] == ["A", "C"]
    assert [r.lead_id for r in desk.queue(QueueFilter(min_score=50, max_score=75)).rows] == ["C"]
    assert [r.lead_id for r in desk.queue(QueueFilter(q="B")).rows] == ["B"]
    assert [r.lead_id for r in desk.queue(QueueFilter(stage="lost")).rows] == ["D"]
    assert desk.queue(QueueFilter(stage="mql")).rows == []
    with pytest.raises(AnalyticsError, match="cursor"):
        desk.queue(QueueFilter(), 25, "garbage")
    with pytest.raises(AnalyticsError, match="SET:LABEL"):
        desk.queue(QueueFilter(label="hot"))


def test_a_story_adds_up_and_its_curve_is_the_pure_score(hand_store: LeadService) -> None:
    story = Desk(hand_store).story("A")
    assert story.score is not None
    total = math.fsum(c.points for d in story.dimensions for c in d.contributions)
    assert total == pytest.approx(story.score) and story.breakdown_total == pytest.approx(story.score)
    assert [(s.from_stage, s.to_stage) for s in story.stages] == [
        (None, "lead"),
        ("lead", "mql"),
        ("mql", "sql"),
        ("sql", "customer"),
    ]
    scorer = hand_store.evaluator.scorer
    with hand_store.store.read() as conn:
        log = load_timelines(conn, ["A"])["A"]
    attrs = {"employees": 150, "source": "paid"}
    for point in story.curve[:: max(1, len(story.curve) // 5)]:
        from leadscore.domain.timeutil import parse_timestamp, to_micros

        t = to_micros(parse_timestamp(point.at))
        expected = scorer.score_timeline(Lead("A", attrs), Timeline([e for e in log if e.ts <= t], until=t), t)
        assert point.score == pytest.approx(round(expected.score, 2))
    with pytest.raises(NotFound):
        Desk(hand_store).story("nobody")


def test_outcomes_move_the_lifecycle(hand_store: LeadService) -> None:
    desk = Desk(hand_store)
    assert desk.act("B", "disqualified", "student", by="alice").stage == "disqualified"
    assert desk.act("B", "accepted", "changed our mind").stage == "sql"
    events = Desk(hand_store).story("B").events
    assert (events[0].type, events[0].properties.get("reason")) == ("sales_accepted", "changed our mind")
    assert events[1].properties == {"stage": "disqualified", "reason": "student", "by": "alice"}
    with pytest.raises(InvalidInput, match="unknown action"):
        desk.act("B", "promote")
    with pytest.raises(InvalidInput, match="at most"):
        desk.act("B", "rejected", "x" * 501)
    with pytest.raises(NotFound):
        desk.act("nobody", "accepted")


def test_the_model_page_and_versions(hand_store: LeadService) -> None:
    desk = Desk(hand_store)
    view = desk.model()
    assert [r.id for d in view.dimensions for r in d.rules] == ["big", "visit", "demo"]
    assert view.stages == ["lead", "mql", "sql", "customer"] and view.initial == "lead"
    (only,) = desk.versions()
    assert desk.diff(only.version, only.version) == []
    with pytest.raises(AnalyticsError, match="no model version"):
        desk.diff(only.version, "nope")


def test_a_story_explains_a_predictive_dimension_in_words(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    from datetime import UTC, datetime

    from leadscore.domain import Event
    from leadscore.store import open_store
    from tests.conftest import EXAMPLES
    from tests.store.conftest import FixedClock

    for name in ("model.yaml", "won-90d.lsm"):
        shutil.copy(EXAMPLES / "b2b-saas-predictive" / name, tmp_path / name)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    service = LeadService(store, model_path=tmp_path / "model.yaml", clock=FixedClock(datetime(2026, 6, 1, tzinfo=UTC)))
    try:
        service.ingest_leads(
            [
                Lead.of(
                    "P1",
                    employees=150,
                    seniority="director",
                    department="marketing",
                    industry="software",
                    region="benelux",
                )
            ]
        )
        service.ingest_events(
            [
                Event.of("P1", "page_view", "2026-05-20T10:00:00Z", page_type="pricing"),
                Event.of("P1", "demo_request", "2026-05-25T10:00:00Z"),
            ]
        )
        story = Desk(service).story("P1")
        (prediction,) = story.predictions
        assert prediction.dimension == "propensity" and 0 <= prediction.probability <= 1
        assert all(f.text for f in prediction.positive + prediction.negative)
        assert any(c.rule == "predictive:propensity" for d in story.dimensions for c in d.contributions)
    finally:
        service.close()


def test_two_versions_differ_line_by_line(hand_store: LeadService, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.analytics.conftest import MODEL

    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(MODEL.replace("points: 40}", "points: 45}"), encoding="utf-8")
    hand_store.apply_model(candidate, quiet=True)
    desk = Desk(hand_store)
    old, new = sorted(desk.versions(), key=lambda v: v.active)
    assert new.active and not old.active
    lines = desk.diff(old.version, new.version)
    assert [(d.kind, d.text.strip()) for d in lines if d.kind in ("add", "del")] == [
        ("del", "-  - {id: demo, on: demo_request, points: 40}"),
        ("add", "+  - {id: demo, on: demo_request, points: 45}"),
    ]
