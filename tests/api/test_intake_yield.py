"""The back-pressure by age (leadscore.app.score_lag) in a real server: its rescoring process says when
it caught up, through the pipe, and the intake's view of the lag (`/metrics`) goes back to nothing once
the acknowledged events are scored. No timing is asserted: the bound is a benchmark's
(benchmarks/api_load.py)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.api.server import Server, create_key

EVENT = {"type": "demo_request", "timestamp": "2026-05-30T10:00:00Z"}


def _gauge(text: str, name: str) -> float:
    return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


@pytest.mark.integration
@pytest.mark.slow  # a server with its rescoring process: 10-15 s to start on a loaded machine
def test_the_intake_sees_its_events_scored_through_the_rescoring_process(backend_root: Path) -> None:
    root = backend_root
    token = create_key(root, "rw", "read", "write")
    server = Server(root, env={"LEADSCORE_API_RESCORE_PROCESS": "true"}).start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
            for n in range(5):
                assert client.post("/v1/events", json={**EVENT, "lead_id": f"y-{n}"}).status_code == 200
            for n in range(5):
                lead = client.get(f"/v1/leads/y-{n}", params={"wait": "30"}).json()
                assert lead["pending"] is False and lead["current"] is True
            # the catch-up that follows the drain reaches the server in the same round; looked at until then
            deadline = time.monotonic() + 60
            while (lag := _gauge(client.get("/metrics").text, "leadscore_intake_score_lag_seconds")) > 0:
                assert time.monotonic() < deadline, f"the intake still sees a lag of {lag} s"
                time.sleep(0.1)
            assert _gauge(client.get("/metrics").text, "leadscore_intake_yielded_seconds") >= 0
    finally:
        server.stop()
    assert "Traceback" not in (root / "server.log").read_text(errors="replace")
