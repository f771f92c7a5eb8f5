"""The service as the HTTP layer needs it: typed results, the error classes, `at` on time-dependent
calls, an evaluator swap that is safe beside concurrent ingests, API keys, destinations checked
when the workspace loads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadscore.api.auth import verify_key
from leadscore.app.errors import Conflict, InvalidInput, NotFound, NotMigrated, ServiceError
from leadscore.app.results import Explanation, History
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace, WorkspaceError
from leadscore.domain import Event, Lead
from leadscore.store import open_store
from tests.api.server import make_workspace
from tests.store.helpers import mismatches

AT = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LeadService]:
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    root = make_workspace(tmp_path / "ws")
    found = LeadService.from_workspace(Workspace.load(root), clock=lambda: AT)
    yield found
    found.close()


def test_errors_are_a_hierarchy_under_service_error(service: LeadService) -> None:
    with pytest.raises(NotFound) as missing:
        service.explain("ghost")
    assert isinstance(missing.value, ServiceError) and missing.value.field == "lead_id"
    service.ingest_events([Event.of("a", "page_view", "2026-05-30")])
    with pytest.raises(InvalidInput, match="stage 'nowhere'"):
        service.set_stage("a", "nowhere")
    with pytest.raises(InvalidInput, match="unknown outcome"):
        service.record_outcome("a", "maybe")
    with pytest.raises(Conflict):
        service.merge("a", "a")
    with pytest.raises(NotFound):
        service.revoke_key("000000000000")


def test_an_unmigrated_store_is_not_migrated(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'blank.db'}")
    try:
        with pytest.raises(NotMigrated, match="db upgrade"):
            LeadService(store).check_schema()
    finally:
        store.dispose()


def test_results_are_typed(service: LeadService) -> None:
    service.ingest_leads([Lead.of("a", employees=300, email="x@acme.com")])
    service.ingest_events([Event.of("a", "demo_request", "2026-05-30", id="d-1")])
    explained = service.explain("a")
    assert isinstance(explained, Explanation) and explained.events[0].id == "d-1"
    assert sum(b.points for b in explained.breakdown) == pytest.approx(explained.score)
    history = service.history("a")
    assert isinstance(history, History) and history.score_history[-1].cause == "event"
    (account,) = service.accounts()
    assert account.account == "acme.com" and account.leads == 1
    assert service.queue()[0].lead_id == "a"
    exported = service.export("a")
    assert exported.events[0].properties == {} and exported.lead.attributes["employees"] == 300
    assert service.lead("a").current is True


def test_time_dependent_calls_take_at(service: LeadService) -> None:
    early = datetime(2026, 5, 31, tzinfo=UTC)
    service.ingest_events([Event.of("a", "page_view", "2026-05-30", path="/pricing")], at=early)
    assert service.result("a").at == early  # type: ignore[union-attr]
    later = datetime(2026, 9, 1, tzinfo=UTC)
    assert service.lead("a", at=later).current is False  # decay and windows are due by then
    done = service.refresh(at=later)
    assert done.leads == 1 and service.result("a").at == later  # type: ignore[union-attr]
    moved = service.set_stage("a", "mql", at=later)
    assert moved.stage == "mql"
    assert service.accounts(at=later) == []


def test_model_apply_swaps_the_evaluator_safely_beside_concurrent_ingests(service: LeadService, tmp_path: Path) -> None:
    assert service.model_path is not None
    source = service.model_path.read_text()
    changed = tmp_path / "changed.yaml"
    changed.write_text(source.replace("points: 50", "points: 70"))
    errors: list[BaseException] = []
    stop = threading.Event()

    def ingest(worker: int) -> None:
        n = 0
        while not stop.is_set() and n < 60:
            n += 1
            try:
                service.ingest_events(
                    [Event.of(f"w{worker}-{n % 5}", "demo_request", "2026-05-30", id=f"{worker}-{n}")]
                )
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for _ in range(3):
        service.apply_model(changed)
        service.apply_model(service.model_path)
    service.apply_model(changed)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    service.refresh()
    assert mismatches(service.store, service.model) == []


def test_keys_are_hashed_scoped_and_revocable(service: LeadService) -> None:
    info, token = service.create_key("crm", ["read", "write"])
    assert token.startswith("lsk_") and info.allows("read") and info.allows("intake") and not info.allows("admin")
    from leadscore.store.tables import api_keys

    with service.store.read() as conn:
        (stored,) = conn.execute(api_keys.select()).mappings()
    assert token.split("_", 2)[2] not in str(dict(stored))  # only a hash is kept (a secret may hold "_")
    assert verify_key(service, token) == info and verify_key(service.store, token) == info
    assert verify_key(service, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    service.revoke_key(info.id)
    assert verify_key(service, token) is None
    with pytest.raises(InvalidInput, match="scope"):
        service.create_key("x", ["root"])
    with pytest.raises(InvalidInput, match="origin"):
        service.create_key("x", ["intake"], ["not a url"])


def test_destinations_are_checked_when_the_workspace_loads(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "leadscore.yaml").write_text(
        "store: sqlite:///x.db\nmodel: model.yaml\ndestinations:\n  crm:\n    url: ftp://nowhere\n"
        "    secret_env: CRM_SECRET\n"
    )
    with pytest.raises(WorkspaceError, match="expected an http"):
        Workspace.load(root)
    (root / "leadscore.yaml").write_text(
        "store: sqlite:///x.db\nmodel: model.yaml\ndestinations:\n  crm:\n    url: https://crm.example.com/hook\n"
        "    secret_env: CRM_SECRET_UNSET_HERE\n"
    )
    assert Workspace.load(root).project.destinations  # an unset secret variable is checked at delivery


def test_a_model_applied_by_another_process_scores_the_next_events(service: LeadService, tmp_path: Path) -> None:
    assert service.model_path is not None
    other = LeadService(open_store(service.store.url), model_path=service.model_path, clock=lambda: AT)
    try:
        changed = tmp_path / "changed.yaml"
        changed.write_text(service.model_path.read_text().replace("points: 50", "points: 70"))
        service.ingest_events([Event.of("a", "page_view", "2026-05-30")])  # this service's evaluator is built
        applied = other.apply_model(changed)
        service.ingest_events([Event.of("b", "demo_request", "2026-05-31")])
        assert service.result("b").model_version == applied.version  # type: ignore[union-attr]
    finally:
        other.close()
