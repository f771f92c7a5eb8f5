"""Erase and export (right to be forgotten, right of access), merge guards and redelivery, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService, ServiceError
from leadscore.domain import Event, Lead
from leadscore.store import LeadStore
from leadscore.store.tables import aliases, deliveries, events, leads, outbox
from leadscore.webhooks.outbox import DeliveryAttempt
from tests.store.conftest import FixedClock


def _rows(store: LeadStore, table: sa.Table) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _merged(service: LeadService) -> None:
    """`a` holds b's data after a merge, and an identified visitor's (anon-1)."""
    service.ingest_leads([Lead.of("a", employees=500, email="a@x.example"), Lead.of("b", phone="+4799887766")])
    service.ingest_events([Event.of("b", "demo_request", "2026-05-30"), Event.of("anon-1", "page_view", "2026-05-29")])
    service.ingest_events([Event.of("a", "identify", "2026-05-30T01:00", anonymous_id="anon-1")])
    service.merge("a", "b")


def test_export_and_erase_by_a_merged_or_anonymous_id_reach_the_person(service: LeadService, store: LeadStore) -> None:
    _merged(service)
    for alias in ("b", "anon-1"):
        data = service.export(alias).model_dump(mode="json")
        assert data["lead"]["id"] == "a" and data["lead"]["attributes"]["phone"] == "+4799887766"
        assert {e["received_lead_id"] for e in data["events"]} == {"a", "b", "anon-1"}
        assert {a["alias"] for a in data["aliases"]} == {"b", "anon-1"}
    counts = service.erase("b")
    assert counts["leads"] == 1 and counts["events"] == 3 and counts["aliases"] == 2
    assert _rows(store, leads) == _rows(store, events) == _rows(store, aliases) == 0
    for gone in ("a", "b", "anon-1"):
        with pytest.raises(ServiceError, match="no lead"):
            service.export(gone)


def test_export_holds_the_delivery_log(service: LeadService, store: LeadStore, clock: FixedClock) -> None:
    service.ingest_leads([Lead.of("a", employees=500)])
    service.ingest_events([Event.of("a", "demo_request", "2026-05-30"), Event.of("a", "page_view", "2026-05-31")])
    exported = service.export("a").model_dump(mode="json")
    assert exported["triggers"], "the model fires to-mql / hot for this lead"
    key = service.outbox().messages()[0]["id"]
    attempt = DeliveryAttempt(key, "crm", 1, clock.now, "retry", 503, "service unavailable", 12.5)
    service.outbox().record_attempt(attempt)
    exported = service.export("a").model_dump(mode="json")
    log = [d for t in exported["triggers"] for d in t["deliveries"]]
    assert log == [
        {
            "attempt": 1,
            "at": "2026-06-01T00:00:00Z",
            "ok": False,
            "status_code": 503,
            "error": "service unavailable",
            "duration_ms": 12.5,
        }
    ]
    assert service.erase("a")["deliveries"] == 1 and _rows(store, deliveries) == _rows(store, outbox) == 0


def test_a_lead_cannot_be_merged_into_itself(service: LeadService) -> None:
    _merged(service)
    for keep, other in (("a", "a"), ("a", "b"), ("b", "a"), ("anon-1", "a")):
        with pytest.raises(ServiceError):
            service.merge(keep, other)
    assert service.result("a") is not None


def test_redeliver_names_unknown_message_ids(service: LeadService) -> None:
    with pytest.raises(ServiceError, match="no-such-id"):
        service.redeliver(["no-such-id"])


def test_erase_overwrites_the_deleted_rows_in_the_sqlite_file(
    service: LeadService, store: LeadStore, tmp_path: Path
) -> None:
    if store.name != "sqlite":
        pytest.skip("PostgreSQL frees deleted rows at VACUUM (docs/store.md)")
    marker = "erase-me-7c1f0a9d"
    service.ingest_leads([Lead.of("a", note=marker * 20), Lead.of("k", employees=5)])
    service.ingest_events([Event.of("a", "page_view", "2026-05-30", path=f"/{marker}")])
    service.erase("a")
    path = Path(store.engine.url.database or "")
    found = [p.name for p in path.parent.glob(path.name + "*") if marker.encode() in p.read_bytes()]
    assert found == []


def test_explain_stage_and_outcome_by_a_merged_id_reach_the_person(service: LeadService) -> None:
    _merged(service)
    assert service.explain("b").lead_id == "a"
    assert service.set_stage("b", "sql").lead_id == "a"
    assert service.record_outcome("anon-1", "won").stage == "customer"
    assert service.result("b") is None  # the id stays an alias: nothing is created under it
