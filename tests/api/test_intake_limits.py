"""Public intake keys: rate limits per key and per client address (429), CORS only for the key's
origins, and nothing but events for such a key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.server import Server, create_key, make_workspace

pytestmark = pytest.mark.integration
SITE = "https://www.example.com"
BODY = '{"batch": [{"type": "page", "anonymousId": "v-1", "properties": {"path": "/"}}]}'


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    root: Path = make_workspace(tmp_path_factory.mktemp("ws"))
    key = create_key(root, "site", "intake", origins=(SITE,))
    # a burst of 5 and one token per 100 s: on a busy machine 12 requests can take seconds, and a
    # refill of one token a second would let the sixth through
    server = Server(
        root, env={"LEADSCORE_API_INTAKE_BURST_PER_CLIENT": "5", "LEADSCORE_API_INTAKE_RATE_PER_CLIENT": "0.01"}
    )
    server.start()
    try:
        yield server.url, key
    finally:
        server.stop()


def test_the_client_address_limit_answers_429(limited: tuple[str, str]) -> None:
    url, key = limited
    codes = [httpx.post(f"{url}/v1/t?key={key}", content=BODY, headers={"Origin": SITE}).status_code for _ in range(12)]
    assert codes[:5] == [200] * 5 and 429 in codes[5:]
    refused = httpx.post(f"{url}/v1/t?key={key}", content=BODY, headers={"Origin": SITE})
    assert refused.headers["retry-after"] == "1" and refused.json()["status"] == 429


def test_cors_answers_only_allowed_origins(limited: tuple[str, str]) -> None:
    url, key = limited
    ok = httpx.options(f"{url}/v1/t?key={key}", headers={"Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == SITE
    other = httpx.options(
        f"{url}/v1/t?key={key}", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert other.status_code == 403 and "access-control-allow-origin" not in other.headers


def test_an_intake_key_cannot_read_or_send_without_an_allowed_origin(limited: tuple[str, str]) -> None:
    url, key = limited
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{url}/v1/queue", headers=auth).status_code == 403
    event = {"lead_id": "a", "type": "page_view", "timestamp": "2026-05-30"}
    assert httpx.post(f"{url}/v1/events", json=event, headers=auth).status_code == 403  # no Origin
    sent = httpx.post(f"{url}/v1/events", json=event, headers={**auth, "Origin": SITE})
    assert sent.status_code in (200, 429)
