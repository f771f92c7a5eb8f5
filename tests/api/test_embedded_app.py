"""An app over a caller's service (`create_app(service)`) runs no rescoring worker until its lifespan
starts one, and its lifespan stops it: a test that never runs the lifespan (a TestClient outside
`with`) leaves no worker polling a store that its fixture then drops."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from leadscore.api.app import create_app
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from tests.api.server import create_key, make_workspace


def _rescoring_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "leadscore-rescore"]


@pytest.fixture
def service_and_key(tmp_path: Path) -> Iterator[tuple[LeadService, str]]:
    root = make_workspace(tmp_path / "ws")
    key = create_key(root, "writer", "write", "read")
    service = LeadService.from_workspace(Workspace.load(root))
    yield service, key
    service.close()


def _send_and_read(client: TestClient, key: str) -> dict[str, object]:
    auth = {"Authorization": f"Bearer {key}"}
    sent = client.post(
        "/v1/events", json={"lead_id": "a", "type": "demo_request", "timestamp": "2026-05-30"}, headers=auth
    )
    assert sent.status_code == 200, sent.text
    lead: dict[str, object] = client.get("/v1/leads/a", headers=auth).json()
    return lead


def test_without_its_lifespan_the_app_scores_before_acknowledging(service_and_key: tuple[LeadService, str]) -> None:
    service, key = service_and_key
    before = _rescoring_threads()
    client = TestClient(create_app(service))  # no `with`: the lifespan never runs
    lead = _send_and_read(client, key)
    assert lead["result"] and not lead.get("pending")  # scored in the acknowledged transaction
    assert _rescoring_threads() == before


def test_its_lifespan_starts_the_worker_and_stops_it(service_and_key: tuple[LeadService, str]) -> None:
    service, key = service_and_key
    before = _rescoring_threads()
    with TestClient(create_app(service)) as client:
        assert len(_rescoring_threads()) == len(before) + 1
        _send_and_read(client, key)
    assert _rescoring_threads() == before
