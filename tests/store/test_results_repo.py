"""Results as `save_results` writes them: one lead's result, basis and score in one statement on
PostgreSQL (leadscore.store.results_repo), row for row what the statements for several leads write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event
from leadscore.store.tables import result_basis
from tests.store.conftest import BACKENDS
from tests.store.helpers import b2b_service, mismatches, random_events, random_leads, written_rows

NOW = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize("kind", BACKENDS)
def test_one_lead_at_a_time_writes_what_several_at_once_write(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    clock = [NOW]
    alone, together = (b2b_service(kind, tmp_path, name, request, clock) for name in ("alone", "together"))
    try:
        leads = random_leads(3, 12)
        alone.ingest_leads(leads)
        together.ingest_leads(leads)
        events = random_events(3, 12, 300)
        for step, start in enumerate(range(0, len(events), 25)):
            part = events[start : start + 25]
            clock[0] = NOW + timedelta(hours=step)
            by_lead: dict[str, list[Event]] = {}
            for event in part:
                by_lead.setdefault(event.lead_id, []).append(event)
            for lead_events in by_lead.values():  # each lead in a transaction of its own: the one-lead statement
                alone.ingest_events(lead_events)
            together.ingest_events(part)  # several leads a transaction: one statement per table
        expected, found = written_rows(together.store), written_rows(alone.store)
        assert len(expected["score_history"]) > len(leads)  # scores changed again and again: the check says something
        for table in expected:
            assert found[table] == expected[table], table
        assert _basis(alone) == _basis(together) and _basis(alone)
        assert mismatches(alone.store, alone.model) == []
    finally:
        alone.close()
        together.close()


def _basis(service: LeadService) -> list[tuple[str, int]]:
    with service.store.read() as conn:
        return [
            (r.lead_id, r.events_seen) for r in conn.execute(sa.select(result_basis).order_by(result_basis.c.lead_id))
        ]
