"""An acknowledged event is durable and scored: SIGKILL a real server (two workers) under load, then
every event that got a 2xx is in the store, and once a server runs again on the store (it drains the
rescoring queue the killed one left) every stored score equals a full recompute."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.store.tables import events
from tests.api.server import Server, create_key
from tests.store.helpers import mismatches

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TYPES = ("page_view", "email_click", "content_download", "demo_request")


def _load(url: str, token: str, acked: list[str], leads: set[str], stop: threading.Event, worker: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        n = 0
        while not stop.is_set():
            n += 1
            if n % 10 == 0:  # now and then a bulk request
                ids = [f"w{worker}-{n}-{i}-{uuid.uuid4().hex[:6]}" for i in range(50)]
                body = {
                    "events": [
                        {"id": i, "lead_id": f"L{worker}-{k % 7}", "type": TYPES[k % 4], "timestamp": "2026-05-30"}
                        for k, i in enumerate(ids)
                    ]
                }
                path = "/v1/events/bulk"
                targets = {e["lead_id"] for e in body["events"]}
            else:
                ids = [f"w{worker}-{n}-{uuid.uuid4().hex[:6]}"]
                body = {"id": ids[0], "lead_id": f"L{worker}-{n % 7}", "type": TYPES[n % 4], "timestamp": "2026-05-30"}
                path = "/v1/events"
                targets = {body["lead_id"]}
            try:
                response = client.post(path, json=body)
            except httpx.HTTPError:
                continue  # the server died with the request in flight: not acknowledged
            if response.is_success:
                acked.extend(ids)
                leads.update(targets)


def test_sigkill_under_load_loses_no_acknowledged_event(backend_root: Path) -> None:
    root = backend_root
    token = create_key(root, "load", "write")
    server = Server(root, workers=2, env={"LEADSCORE_API_RESCORE_PROCESS": "true"}).start()
    acked: list[str] = []
    leads: set[str] = set()  # the leads of acknowledged events (a worker's first may have gone to any)
    stop = threading.Event()
    threads = [threading.Thread(target=_load, args=(server.url, token, acked, leads, stop, w)) for w in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60  # until enough requests are acknowledged (a busy machine is slow)
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # and kill it in the middle of more
    server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) > 100  # the load really ran

    service = LeadService.from_workspace(Workspace.load(root))
    try:
        with service.store.read() as conn:
            stored = set(conn.execute(sa.select(events.c.event_key)).scalars())
        missing = [i for i in acked if i not in stored]
        assert missing == []
        # the server comes back on the same store and scores what the killed one left queued
        again = Server(root, env={"LEADSCORE_API_RESCORE_PROCESS": "true"}).start()
        try:
            for _ in range(600):
                if service.backlog().leads == 0:
                    break
                time.sleep(0.05)
            assert service.backlog().leads == 0
            assert mismatches(service.store, service.model) == []  # every stored event is in its lead's result
            with httpx.Client(base_url=again.url, headers={"Authorization": f"Bearer {token}"}) as client:
                assert client.post(
                    "/v1/events", json={"lead_id": "after", "type": "page_view", "timestamp": "2026-05-30"}
                ).is_success
                assert all(client.get(f"/v1/leads/{lead}").json()["current"] for lead in sorted(leads))
        finally:
            again.stop()
    finally:
        service.close()
