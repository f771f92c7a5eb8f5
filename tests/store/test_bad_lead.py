"""One stored lead that the active model cannot score (its `stage` names a stage the model no
longer has, from before model apply became one transaction) must not hold back the others:
refresh rescores the rest and reports it; a model apply that meets such a lead changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from leadscore.engine import ScoringDataError
from leadscore.model import parse_model
from leadscore.store import LeadStore
from leadscore.store.models_repo import activate
from tests.store.conftest import FixedClock

MODEL_A = """
format: 1
name: funnel
rules:
  - {id: visit, on: visit, points: 10, within: 1d}
lifecycle:
  stages: [lead, trial, customer]
  transitions:
    - {to: customer, on: won}
"""
MODEL_B = MODEL_A.replace("[lead, trial, customer]", "[lead, customer]")


def _loaded(store: LeadStore, tmp_path: Path) -> LeadService:
    path = tmp_path / "a.yaml"
    path.write_text(MODEL_A, encoding="utf-8")
    service = LeadService(store, model_path=path, clock=FixedClock(datetime(2026, 6, 1, tzinfo=UTC)))
    service.ingest_leads([Lead.of("a"), Lead.of("b", stage="trial"), Lead.of("c")])
    service.ingest_events([Event.of(x, "visit", "2026-05-31T12:00:00Z", id=f"v-{x}") for x in "abc"])
    assert [service.result(x).score for x in "abc"] == [10.0, 10.0, 10.0]  # type: ignore[union-attr]
    return service


def test_refresh_rescores_the_others_and_reports_the_bad_lead(store: LeadStore, tmp_path: Path) -> None:
    service = _loaded(store, tmp_path)
    with store.write() as conn:  # model B made active without rescoring, as apply once did
        activate(store, conn, parse_model(MODEL_B), MODEL_B, service.now_us())
    service.clock.advance(days=2)  # type: ignore[attr-defined]
    fresh = LeadService(store, clock=service.clock)
    done = fresh.refresh()
    assert [(e.lead_id, "trial" in e.detail) for e in done.failed] == [("b", True)]
    assert done.leads == 2
    assert [fresh.result(x).score for x in "ac"] == [0.0, 0.0]  # type: ignore[union-attr]
    assert fresh.result("b").score == 10.0  # type: ignore[union-attr]  # kept, not half-written
    again = fresh.refresh()  # still due: reported again, nothing else to do
    assert [e.lead_id for e in again.failed] == ["b"] and again.leads == 0


def test_apply_meeting_a_bad_lead_changes_nothing_and_names_it(store: LeadStore, tmp_path: Path) -> None:
    service = _loaded(store, tmp_path)
    old = service.active_model()
    path = tmp_path / "b.yaml"
    path.write_text(MODEL_B, encoding="utf-8")
    with pytest.raises(ScoringDataError, match=r"lead 'b'.*trial"):
        service.apply_model(path)
    assert LeadService(store, clock=service.clock).active_model() == old
    service.ingest_leads([Lead.of("b", stage="lead")])  # the data fixed, the apply goes through
    assert service.apply_model(path).rescored.leads == 3
