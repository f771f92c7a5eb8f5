"""Numbers at the store's door: files and items handed to the service with NaN, Infinity or values
beyond +-2**53 are refused (file:line:field, or the lead and field), and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService, ServiceError
from leadscore.domain import Event, Lead
from leadscore.io import DataFileError
from leadscore.store import LeadStore
from leadscore.store.tables import events, leads


def _count(store: LeadStore, table: sa.Table) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_event_file_with_nan_infinity_or_overflow_is_refused_whole(
    service: LeadService, store: LeadStore, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"lead_id": "a", "type": "purchase", "timestamp": "2026-05-01T00:00:00Z", "amount": 10}\n'
        '{"lead_id": "a", "type": "purchase", "timestamp": "2026-05-02T00:00:00Z", "amount": NaN}\n'
        '{"lead_id": "a", "type": "purchase", "timestamp": "2026-05-03T00:00:00Z", "amount": Infinity}\n'
        '{"lead_id": "b", "type": "purchase", "timestamp": "2026-05-03T00:00:00Z", "amount": 1e309}\n'
        '{"lead_id": "b", "type": "purchase", "timestamp": "2026-05-04T00:00:00Z", "amount": 1e308}\n',
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as info:
        service.ingest_events_file(path)
    text = str(info.value)
    for line in (2, 3, 4, 5):
        assert f"events.jsonl:{line}:amount" in text, text
    assert _count(store, events) == 0


def test_skip_invalid_keeps_the_good_rows(service: LeadService, store: LeadStore, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"lead_id": "a", "type": "page_view", "timestamp": "2026-05-01T00:00:00Z", "amount": 1e308}\n'
        '{"lead_id": "b", "type": "page_view", "timestamp": "2026-05-01T00:00:00Z", "amount": 5}\n',
        encoding="utf-8",
    )
    report = service.ingest_events_file(path, skip_invalid=True, rejects=tmp_path / "bad.jsonl")
    assert (report.inserted, report.rejected) == (1, 1)
    assert "events.jsonl:1:amount" in (tmp_path / "bad.jsonl").read_text(encoding="utf-8")


def test_items_handed_to_the_service_are_checked(service: LeadService, store: LeadStore) -> None:
    with pytest.raises(ServiceError, match=r"lead 'a'.*amount: .*out of range"):
        service.ingest_events([Event.of("a", "purchase", "2026-05-01", amount=1e308)])
    with pytest.raises(ServiceError, match=r"lead 'b': employees: not a number"):
        service.ingest_leads([Lead.of("b", employees=float("nan"))])
    assert _count(store, events) == 0 and _count(store, leads) == 0
