"""Every route but /health and /ready needs a key with the right scope: 401 without a valid key
(none, wrong, malformed, revoked), 403 for a key without the scope, against a real server."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.conftest import Live

pytestmark = pytest.mark.integration

OPEN = {("/health", "get"), ("/ready", "get")}
# Keys that lack each scope (the `intake` key also lacks read/write/admin, `read` lacks intake).
LACKING = {"read": ["intake"], "write": ["read", "intake"], "intake": ["read"], "admin": ["read", "write", "intake"]}


def operations(live: Live) -> list[tuple[str, str, dict[str, Any]]]:
    doc = httpx.get(live.url + "/openapi.json").json()
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def _call(live: Live, path: str, method: str, headers: dict[str, str]) -> httpx.Response:
    url = re.sub(r"\{[^}]+\}", "abcdef012345", path)
    body = None if method in ("get", "delete") else {}
    return httpx.request(method.upper(), live.url + url, json=body, headers=headers, timeout=30)


def test_every_operation_declares_its_scope(live: Live) -> None:
    for path, method, op in operations(live):
        if (path, method) in OPEN:
            assert "x-scope" not in op
        else:
            assert op.get("x-scope") in LACKING, (path, method)


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "Bearer",
        "Bearer lsk_000000000000_wrongwrongwrongwrongwrong",
        "Bearer not-a-key",
        "Basic Zm9vOmJhcg==",
        "revoked",
    ],
)
def test_no_valid_key_is_401_on_every_route(live: Live, auth: str | None) -> None:
    if auth == "revoked":
        auth = f"Bearer {live.keys['revoked']}"
    headers = {"Authorization": auth} if auth else {}
    for path, method, _ in operations(live):
        if (path, method) in OPEN:
            continue
        response = _call(live, path, method, headers)
        assert response.status_code == 401, (path, method, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 401
        assert response.headers.get("www-authenticate", "").startswith("Bearer")


def test_a_key_without_the_scope_is_403_on_every_route(live: Live) -> None:
    for path, method, op in operations(live):
        if (path, method) in OPEN:
            continue
        for key in LACKING[op["x-scope"]]:
            response = _call(live, path, method, {"Authorization": f"Bearer {live.keys[key]}"})
            assert response.status_code == 403, (path, method, key, response.text)
            assert op["x-scope"] in response.json()["detail"] or "origin" in response.json()["detail"]


def test_health_and_readiness_need_no_key(live: Live) -> None:
    assert httpx.get(live.url + "/health").json() == {"status": "ok"}
    assert httpx.get(live.url + "/ready").json()["status"] == "ok"


def test_keys_are_created_listed_and_revoked_over_http(live: Live) -> None:
    with live.client("admin") as admin:
        made = admin.post("/v1/keys", json={"name": "crm", "scopes": ["read"]})
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        listed = admin.get("/v1/keys").json()
        assert all("token" not in k and "secret_hash" not in k for k in listed)
        assert made.json()["id"] in {k["id"] for k in listed}
        with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"}) as reader:
            assert reader.get("/v1/queue").status_code == 200
            assert admin.delete(f"/v1/keys/{made.json()['id']}").status_code == 200
            assert reader.get("/v1/queue").status_code == 401


def test_segment_style_basic_auth_carries_the_key_as_user_name(live: Live) -> None:
    import base64

    basic = base64.b64encode(f"{live.keys['read']}:".encode()).decode()
    assert httpx.get(live.url + "/v1/queue", headers={"Authorization": f"Basic {basic}"}).status_code == 200


def test_unknown_scope_is_a_422_naming_the_field(live: Live) -> None:
    with live.client("admin") as admin:
        response = admin.post("/v1/keys", json={"name": "x", "scopes": ["root"]})
    assert response.status_code == 422
    assert "root" in response.json()["detail"]
