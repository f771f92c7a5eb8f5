"""A small store whose every number the analytics tests compute by hand (see test_reports.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from leadscore.store import open_store
from tests.store.conftest import FixedClock, postgres_template, store_url  # noqa: F401 (fixtures)

MODEL = """
format: 1
name: analytics-test
rules:
  - {id: big, when: {attribute: employees, gte: 100}, points: 30}
  - {id: visit, on: page_view, points: 10}
  - {id: demo, on: demo_request, points: 40}
labels:
  temperature:
    - {label: hot, when: {score: total, gte: 60}}
    - {label: cold}
lifecycle:
  stages: [lead, mql, sql, customer]
  exits: [recycled, disqualified, lost]
  transitions:
    - {to: mql, when: {score: total, gte: 60}}
    - {to: sql, on: sales_accepted}
    - {to: recycled, on: sales_rejected}
    - {to: customer, on: deal_won}
    - {to: lost, on: deal_lost}
playbooks:
  - {name: call, when: {stage: [mql, sql]}, priority: 1, action: Call}
  - {name: nurture, action: Nurture}
triggers:
  - {id: to-mql, on: stage_changed, to: mql, destination: crm}
"""
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def jan(day: int) -> str:
    return f"2026-01-{day:02d}T12:00:00Z"


LEADS = [
    Lead.of("A", employees=150, source="paid"),
    Lead.of("B", employees=5, source="organic"),
    Lead.of("C", employees=150, source="paid"),
    Lead.of("D", employees=50, source="organic", stage="sql"),
]
ARRIVALS = [jan(1), jan(2), "2026-01-04T11:00:00Z", jan(10)]
EVENTS = [
    Event.of("A", "page_view", jan(1)),
    Event.of("A", "demo_request", jan(3)),
    Event.of("A", "sales_accepted", jan(5)),
    Event.of("A", "deal_won", jan(15), amount=1000),
    Event.of("B", "page_view", jan(2)),
    Event.of("C", "demo_request", jan(4)),
    Event.of("C", "sales_rejected", jan(6), reason="no budget"),
    Event.of("D", "page_view", jan(10)),
    Event.of("D", "deal_lost", jan(20)),
]


@pytest.fixture
def hand_store(store_url: str, tmp_path: Path) -> Iterator[LeadService]:  # noqa: F811
    model = tmp_path / "model.yaml"
    model.write_text(MODEL, encoding="utf-8")
    store = open_store(store_url)
    store.upgrade()
    clock = FixedClock(NOW)
    service = LeadService(store, model_path=model, clock=clock, destinations=dict)
    # each lead arrives when it first shows up (C an hour before its demo request), so it enters the
    # funnel then, as it would in real use; the events follow in one batch on 1 June
    for lead, arrived in zip(LEADS, ARRIVALS, strict=True):
        clock.now = datetime.fromisoformat(arrived.replace("Z", "+00:00"))
        service.ingest_leads([lead])
    clock.now = NOW
    service.ingest_events(EVENTS)
    service.deliver_webhooks()  # `crm` is not configured: both messages are dead-lettered
    yield service
    service.close()
