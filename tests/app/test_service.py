"""The facade from a workspace: settings from the project file and the environment, injected clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadscore.app.service import LeadService, ServiceError
from leadscore.app.workspace import Workspace, WorkspaceError, init_workspace
from leadscore.domain import Event

MODEL = """
format: 1
name: tiny
rules:
  - {id: visit, on: page_view, points: 5, within: 7d}
"""


def test_workspace_service_scores_at_the_injected_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    init_workspace(tmp_path, MODEL)
    at = datetime(2026, 6, 1, tzinfo=UTC)
    service = LeadService.from_workspace(Workspace.load(tmp_path), clock=lambda: at)
    try:
        service.upgrade()
        service.ingest_events([Event.of("a", "page_view", "2026-05-30"), Event.of("a", "page_view", "2026-05-01")])
        result = service.result("a")
        assert result is not None and result.at == at and result.score == 5.0
        assert (tmp_path / "leadscore.db").exists()
    finally:
        service.close()


def test_environment_overrides_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    init_workspace(tmp_path, MODEL)
    monkeypatch.setenv("LEADSCORE_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert Workspace.load(tmp_path).database_url.endswith("other.db")


def test_unknown_project_keys_and_leads_are_clear_errors(tmp_path: Path) -> None:
    init_workspace(tmp_path, MODEL)
    (tmp_path / "leadscore.yaml").write_text("store: sqlite:///x.db\nmodle: model.yaml\n")
    with pytest.raises(WorkspaceError, match="modle"):
        Workspace.load(tmp_path)
    (tmp_path / "leadscore.yaml").write_text("store: sqlite:///x.db\n")
    service = LeadService.from_workspace(Workspace.load(tmp_path))
    try:
        service.upgrade()
        with pytest.raises(ServiceError, match="no lead 'ghost'"):
            service.explain("ghost")
    finally:
        service.close()


def test_a_predictive_model_keeps_its_evaluator_between_writes(tmp_path: Path) -> None:
    """The store names the active model by its fingerprint; an evaluator with trained artifacts has a
    version that also covers them. Comparing the two made every write reload the model and artifacts."""
    import shutil

    from leadscore.domain import Lead
    from leadscore.store import open_store
    from tests.conftest import EXAMPLES

    for name in ("model.yaml", "won-90d.lsm"):
        shutil.copy(EXAMPLES / "b2b-saas-predictive" / name, tmp_path / name)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    service = LeadService(store, model_path=tmp_path / "model.yaml", clock=lambda: datetime(2026, 6, 1, tzinfo=UTC))
    try:
        service.apply_model(tmp_path / "model.yaml", quiet=True)
        first = service.current_evaluator()
        service.ingest_leads([Lead.of("P1", employees=150, seniority="director")])
        service.ingest_events([Event.of("P1", "page_view", "2026-05-20T10:00:00Z", page_type="pricing")])
        assert service.current_evaluator() is first
        assert first.version != first.scorer.model_version  # the artifact is part of the scores' version
    finally:
        service.close()


def test_a_predictive_model_drains_its_queued_leads(tmp_path: Path) -> None:
    """The drain's check for a model applied meanwhile compares the store's name of the active model with
    the model's fingerprint, not with the evaluator's version (which also covers the trained artifacts):
    else a store with a predictive model never got its queued leads rescored."""
    import shutil

    from leadscore.domain import Lead
    from leadscore.store import open_store
    from tests.conftest import EXAMPLES

    for name in ("model.yaml", "won-90d.lsm"):
        shutil.copy(EXAMPLES / "b2b-saas-predictive" / name, tmp_path / name)
    services = []
    at = datetime(2026, 6, 1, tzinfo=UTC)
    for name in ("deferred.db", "at-once.db"):
        store = open_store(f"sqlite:///{tmp_path / name}")
        store.upgrade()
        services.append(LeadService(store, model_path=tmp_path / "model.yaml", clock=lambda: at))
    service, oracle = services
    lead_in = Lead.of("P1", employees=150, seniority="director")
    event = Event.of("P1", "page_view", "2026-05-20T10:00:00Z", page_type="pricing")
    try:
        for one in services:
            one.apply_model(tmp_path / "model.yaml", quiet=True)
            one.ingest_leads([lead_in])
        before = service.result("P1")
        oracle.ingest_events([event])
        done = service.ingest_events([event], defer=True)
        assert done.pending == 1
        drained = service.drain_pending()
        assert drained.taken == 1 and drained.rescored.leads == 1 and not drained.model_changed
        lead = service.lead("P1")
        assert lead.current and not lead.pending and service.backlog().leads == 0
        assert lead.result is not None and before is not None and lead.result.score != before.score
        assert service.result("P1") == oracle.result("P1")  # as rescoring in the acknowledging transaction writes it
    finally:
        for one in services:
            one.close()
