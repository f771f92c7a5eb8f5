"""`GET /v1/leads/{id}?wait=SECONDS`: answered as soon as the rescoring commits the lead's events
(a real server with its rescoring process, SQLite and PostgreSQL), after the wait with the lead still
pending, 404 for an unknown lead, 422 beyond the longest wait, 429 beyond the number of waits, and a
client that goes away mid-wait ends its wait (leadscore.app.lead_waits, leadscore.api.disconnect)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadscore.api.app import create_app
from leadscore.api.settings import ApiSettings
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.domain import Event
from tests.api.server import Server, create_key, make_workspace
from tests.support.lead_waits import until_waiting

EVENT = {"lead_id": "a", "type": "demo_request", "timestamp": "2026-05-30T10:00:00Z"}


def _scored(lead: dict[str, Any]) -> bool:
    return any(b["rule"] == "demo-request" for b in (lead.get("result") or {}).get("breakdown", []))


@pytest.mark.integration
@pytest.mark.slow  # a server with its rescoring process: 10-15 s to start on a loaded machine
def test_a_wait_is_answered_when_the_rescoring_process_commits(backend_root: Path) -> None:
    root = backend_root
    token = create_key(root, "rw", "read", "write")
    # no periodic check within the test: only the rescoring process's signal can end the wait early
    env = {"LEADSCORE_API_RESCORE_PROCESS": "true", "LEADSCORE_API_LEAD_WAIT_CHECK_S": "60"}
    server = Server(root, env=env).start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            for n in range(3):
                assert client.post("/v1/events", json={**EVENT, "lead_id": f"w-{n}"}).status_code == 200
                started = time.monotonic()
                lead = client.get(f"/v1/leads/w-{n}", params={"wait": "30"})
                assert lead.status_code == 200, lead.text
                assert time.monotonic() - started < 20  # the signal, not the end of the wait
                assert lead.json()["pending"] is False and lead.json()["current"] is True and _scored(lead.json())
            assert client.get("/v1/leads/nobody", params={"wait": "1"}).status_code == 404
            for bad in ("31", "-1", "nan", "soon"):
                refused = client.get("/v1/leads/w-0", params={"wait": bad})
                assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == ["query", "wait"]
    finally:
        server.stop()
    assert "Traceback" not in (root / "server.log").read_text(errors="replace")


@pytest.mark.integration
@pytest.mark.slow  # two server processes, each with its rescoring process
def test_a_wait_is_answered_whichever_server_process_drained_the_lead(tmp_path: Path) -> None:
    """With two workers, a lead may be drained by the other process's rescoring, which signals its
    own waits only: the periodic check answers the wait then."""
    root = make_workspace(tmp_path / "ws")
    token = create_key(root, "rw", "read", "write")
    server = Server(root, workers=2, env={"LEADSCORE_API_RESCORE_PROCESS": "true"}).start()
    try:
        for n in range(10):  # a connection each: the event and the wait reach either process
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
                assert client.post("/v1/events", json={**EVENT, "lead_id": f"w-{n}"}).status_code == 200
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
                started = time.monotonic()
                lead = client.get(f"/v1/leads/w-{n}", params={"wait": "30"}).json()
            # answered once scored, not at the end of the wait (whose last read would show it scored too)
            assert time.monotonic() - started < 15 and lead["pending"] is False and _scored(lead)
    finally:
        server.stop()


@pytest.fixture
def pending_app(tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """An app over a service without a rescoring worker (no lifespan), with lead "a" queued: its waits
    end only with the wait."""
    root = make_workspace(tmp_path / "ws")
    token = create_key(root, "reader", "read")
    service = LeadService.from_workspace(Workspace.load(root))
    service.ingest_events([Event.of("a", "demo_request", "2026-05-30T10:00:00Z")], defer=True)
    app = create_app(service, settings=ApiSettings(max_lead_waits=1, lead_wait_check_s=0.05))
    app.state.intake_key = create_key(root, "site", "intake")  # an intake key cannot read
    yield app, token
    service.close()


def test_a_wait_needs_a_key_with_the_read_scope_and_is_refused_before_it_waits(pending_app: tuple[Any, str]) -> None:
    app, _ = pending_app

    async def scenario() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return [
                await client.get("/v1/leads/a", params={"wait": "20"}, headers=headers)
                for headers in (
                    {},
                    {"Authorization": "Bearer lsk_0_wrong"},
                    {"Authorization": f"Bearer {app.state.intake_key}"},
                )
            ]

    started = time.monotonic()
    none, wrong, intake = asyncio.run(scenario())
    assert none.status_code == 401 and wrong.status_code == 401 and intake.status_code == 403
    assert "read" in intake.json()["detail"] and time.monotonic() - started < 10  # none of them waited 20 s


def test_a_wait_times_out_pending_waits_beyond_the_cap_are_429_and_the_metrics_count_them(
    pending_app: tuple[Any, str],
) -> None:
    app, token = pending_app

    async def scenario() -> tuple[httpx.Response, httpx.Response, float]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
            started = time.monotonic()
            first = asyncio.ensure_future(client.get("/v1/leads/a", params={"wait": "2"}))
            await until_waiting(app.state.waits)
            second = await client.get("/v1/leads/a", params={"wait": "2"})
            assert "leadscore_lead_waits 1.0" in (await client.get("/metrics")).text
            done = await first
            assert "leadscore_lead_waits 0.0" in (await client.get("/metrics")).text
            return done, second, time.monotonic() - started

    first, second, took = asyncio.run(scenario())
    assert first.status_code == 200 and took >= 2
    assert first.json()["pending"] is True and first.json()["current"] is False
    assert second.status_code == 429 and second.headers["retry-after"] == "1"
    assert app.state.waits.waiting == 0


def test_a_client_that_goes_away_mid_wait_ends_its_wait(pending_app: tuple[Any, str]) -> None:
    app, token = pending_app
    sent: list[dict[str, Any]] = []
    gone = asyncio.Event()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/leads/a",
        "raw_path": b"/v1/leads/a",
        "root_path": "",
        "query_string": b"wait=30",
        "headers": [(b"host", b"test"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    messages = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> dict[str, Any]:
        for message in messages:
            return message
        await gone.wait()  # as a server does: nothing more until the connection closes
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def scenario() -> float:
        call = asyncio.ensure_future(app(scope, receive, send))
        await until_waiting(app.state.waits)
        assert not call.done()
        started = time.monotonic()
        gone.set()
        await asyncio.wait_for(call, 10)
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 5  # not the 30 s of the wait
    assert app.state.waits.waiting == 0
    assert sent[0]["status"] == 499
