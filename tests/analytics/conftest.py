"""A small store whose every number the analytics tests compute by hand (see test_reports.py), and a
generated year on each backend that the fast paths are compared on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from leadscore.generate import sample
from leadscore.store import open_store
from tests.store.conftest import BACKENDS, FixedClock, fresh_database_url, postgres_template, store_url  # noqa: F401

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


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
END = datetime(2026, 6, 1, tzinfo=UTC)


# The tests of `generated` run on one xdist worker: every worker that runs one of them builds the year
# on each backend (the package's costliest fixture), so spread over both workers it was built twice.
YEAR_GROUP = pytest.mark.xdist_group("analytics-year")


@pytest.fixture(scope="package", params=BACKENDS)
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LeadService]:
    """A year of 120 generated B2B leads, ingested as they arrive, under the example model.

    Built once per backend (and xdist worker) for the tests that only read it: ingesting the year
    month by month takes seconds, a dozen times over when each test built its own."""
    url = fresh_database_url(request.param, tmp_path_factory.mktemp("generated"), request, migrated=True)
    store = open_store(url)
    store.upgrade()
    clock = FixedClock(END)
    service = LeadService(store, model_path=EXAMPLES / "b2b-saas" / "model.yaml", clock=clock, destinations=dict)
    leads, events = sample("b2b", 120, 7, start=END - timedelta(days=400), end=END)
    events.sort(key=lambda e: e.ts)
    for month in range(14):
        cut = END - timedelta(days=400) + timedelta(days=30 * (month + 1))
        clock.now = min(cut, END)
        batch = [e for e in events if cut - timedelta(days=30) <= e.timestamp < cut]
        if month == 0:
            service.ingest_leads(leads)
        if batch:
            service.ingest_events(batch)
    clock.now = END
    yield service
    service.close()
