"""The documented webhook flow against real servers: events over the API make a lead an MQL, the
trigger is delivered to a receiver over HTTP, and the receiver checks the signature."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadscore.webhooks import generate_secret, verify
from tests.api.server import Server, create_key, free_port, make_workspace

pytestmark = pytest.mark.integration
SECRET = generate_secret()


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[bytes, dict[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((body, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}/hooks/leadscore"
    finally:
        server.shutdown()
        server.server_close()


def test_a_trigger_reaches_the_receiver_signed(tmp_path: Path, receiver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    root = make_workspace(tmp_path / "ws")
    project = (
        (root / "leadscore.yaml")
        .read_text()
        .replace("destinations: {}", f"destinations:\n  crm:\n    url: {receiver}\n    secret_env: CRM_SECRET\n")
    )
    (root / "leadscore.yaml").write_text(project)
    token = create_key(root, "admin", "admin")
    server = Server(root, env={"CRM_SECRET": SECRET}).start()
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as api:
            now = datetime.now(UTC) - timedelta(minutes=5)
            api.put("/v1/leads/jane", json={"attributes": {"employees": 300, "title": "Head of Sales"}})
            sent = api.post(
                "/v1/events",
                json={"lead_id": "jane", "type": "demo_request", "timestamp": now.isoformat()},
            )
            # acknowledged once stored; the rescoring worker fires the trigger right after
            assert sent.json()["pending"] == 1
            lead = api.get("/v1/leads/jane").json()
            for _ in range(400):
                if not lead["pending"]:
                    break
                time.sleep(0.05)
                lead = api.get("/v1/leads/jane").json()
            assert lead["current"] and lead["result"]["stage"] == "mql"
            assert [m["trigger"] for m in api.get("/v1/webhooks/messages?status=pending").json()] == ["mql-to-crm"]
            delivered = api.post("/v1/webhooks/deliver", json={})
            assert delivered.json()["delivered"] == 1, delivered.text
            (log,) = api.get("/v1/webhooks/deliveries").json()
            assert log["ok"] and log["status_code"] == 204 and log["trigger"] == "mql-to-crm"
    finally:
        server.stop()
    (body, headers) = Receiver.received[-1]
    message_id = verify(SECRET, body, headers)
    assert message_id == headers["webhook-id"]
    tampered = body.replace(b"jane", b"john")
    with pytest.raises(Exception, match="signature"):
        verify(SECRET, tampered, headers)
