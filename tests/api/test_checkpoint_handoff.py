"""A server whose rescoring runs in a process of its own leaves SQLite's checkpoints to that process
(leadscore.api.app.start_intake, `SqliteStore.leave_checkpoints`); with the rescoring in a thread of the
server, its commits checkpoint at SQLite's default as before. Events sent either way are stored and
scored."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from leadscore.api.app import create_app
from leadscore.api.settings import ApiSettings
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.store.backends import BACKSTOP_PAGES, CHECKPOINT_PAGES
from tests.api.server import create_key, make_workspace


def _served(root: Path, key: str, settings: ApiSettings) -> int:
    """Send a bulk request through the app's lifespan, wait until it is scored; the autocheckpoint the
    server's store ran with."""
    app = create_app(workspace=Workspace.load(root), settings=settings)
    auth = {"Authorization": f"Bearer {key}"}
    events = [{"lead_id": f"L{i % 7}", "type": "page_view", "timestamp": "2026-05-30T10:00:00Z"} for i in range(40)]
    with TestClient(app) as client:
        sent = client.post(
            "/v1/events/bulk",
            json={"events": [{**e, "id": f"e{i}"} for i, e in enumerate(events)]},
            headers=auth,
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["inserted"] == 40
        deadline = time.monotonic() + 30
        while not all(client.get(f"/v1/leads/L{i}", headers=auth).json()["current"] for i in range(7)):
            assert time.monotonic() < deadline, "the bulk events were not scored"
            time.sleep(0.05)
        store = app.state.service.store
        with store.read() as conn:
            return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_a_server_with_a_rescoring_process_leaves_it_the_checkpoints(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    key = create_key(root, "writer", "write", "read")
    assert _served(root, key, ApiSettings(rescore_process=True)) == BACKSTOP_PAGES
    # the rescoring process's own store keeps SQLite's default: it checkpoints
    service = LeadService.from_workspace(Workspace.load(root))
    try:
        with service.store.read() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == CHECKPOINT_PAGES
    finally:
        service.close()


def test_a_server_rescoring_in_a_thread_checkpoints_itself(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    key = create_key(root, "writer", "write", "read")
    assert _served(root, key, ApiSettings(rescore_process=False)) == CHECKPOINT_PAGES
