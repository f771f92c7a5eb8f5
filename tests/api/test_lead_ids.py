"""Lead ids holding `/`, `%`, `?`, `#`, spaces and other scripts, on every `/v1/leads/{id}` route of a
real server: percent-encoded as one segment the id is exact (even `a/explain`); a bare `/` works too
where it cannot be read as a sub-route."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from leadscore.api.paths import keep_slashes, lead_path
from tests.api.conftest import Live

pytestmark = pytest.mark.integration

IDS = [
    "acme.com/jane",
    "crm/accounts/42/contacts/7",
    "100% sure",
    "what?now",
    "tag#1",
    " spaced out ",
    "Zoë/Ørsted/東京",
    "a/explain",  # ends like a sub-route: only the encoded form says which is meant
    "literal%2Fslash",  # a `%2F` that is text, not an escape
    "50%25",
    "a/../b",
    "+plus&amp=",
]


def test_keep_slashes_decodes_all_but_slash_and_percent() -> None:
    assert keep_slashes("/v1/leads/a%2fb%20c%25d%C3%A9/explain") == "/v1/leads/a%2Fb c%25dé/explain"
    assert keep_slashes("/v1/leads/%FF") == "/v1/leads/\ufffd"  # bad UTF-8 is replaced, never raises
    assert lead_path("a/b?c#d e%") == "a%2Fb%3Fc%23d%20e%25"


def _url(lead_id: str, tail: str = "") -> str:
    return f"/v1/leads/{lead_path(lead_id)}{tail}"


@pytest.mark.parametrize("lead_id", IDS)
def test_every_lead_route_takes_an_id_with_reserved_characters(live: Live, lead_id: str) -> None:
    other = f"{lead_id}/other"
    with live.client("admin") as client:
        put = client.put(_url(lead_id), json={"attributes": {"employees": 150, "title": "CTO"}})
        assert put.status_code == 200, put.text
        assert put.json()["id"] == lead_id
        event = {"lead_id": lead_id, "type": "demo_request", "timestamp": "2026-05-30T10:00:00Z"}
        assert client.post("/v1/events", json=event).status_code == 200
        got = client.get(_url(lead_id))
        assert got.status_code == 200 and got.json()["id"] == lead_id
        result = client.get(_url(lead_id, "/result"))
        assert result.status_code == 200 and result.json()["lead_id"] == lead_id
        explained = client.get(_url(lead_id, "/explain"), params={"events": 3})
        assert explained.status_code == 200, explained.text
        assert explained.json()["lead_id"] == lead_id
        history = client.get(_url(lead_id, "/history"))
        assert history.status_code == 200 and history.json()["lead_id"] == lead_id
        moved = client.post(_url(lead_id, "/stage"), json={"stage": "sql"})
        assert moved.status_code == 200 and moved.json()["stage"] == "sql", moved.text
        won = client.post(_url(lead_id, "/outcomes"), json={"outcome": "opportunity"})
        assert won.status_code == 200 and won.json()["lead_id"] == lead_id
        assert client.put(_url(other), json={"attributes": {"phone": "555"}}).status_code == 200
        merged = client.post(_url(lead_id, "/merge"), json={"other": other})
        assert merged.status_code == 200, merged.text
        exported = client.get(_url(lead_id, "/export"))
        assert exported.status_code == 200
        assert exported.json()["lead"]["id"] == lead_id
        assert exported.json()["lead"]["attributes"]["phone"] == "555"  # the merged lead's attribute
        listed = client.get("/v1/leads", params={"q": lead_id.strip(), "limit": 500}).json()["items"]
        assert lead_id in [item["id"] for item in listed]
        erased = client.delete(_url(lead_id))
        assert erased.status_code == 200 and erased.json()["lead_id"] == lead_id
        assert client.get(_url(lead_id)).status_code == 404
        assert client.get(_url(other)).status_code == 404  # the merged id went with it


def test_an_encoded_sub_route_name_is_part_of_the_id(live: Live) -> None:
    with live.client("admin") as client:
        assert client.put(_url("b"), json={"attributes": {"title": "plain"}}).status_code == 200
        assert client.put(_url("b/history"), json={"attributes": {"title": "slashed"}}).status_code == 200
        assert client.get(_url("b/history")).json()["attributes"]["title"] == "slashed"
        assert "score_history" in client.get("/v1/leads/b/history").json()  # bare: b's history
        assert client.get(_url("b/history", "/history")).json()["lead_id"] == "b/history"


def test_a_bare_slash_in_an_id_routes_when_unambiguous(live: Live) -> None:
    with live.client("admin") as client:
        assert client.put("/v1/leads/org/7/person/9", json={"attributes": {"title": "VP"}}).status_code == 200
        assert client.get("/v1/leads/org/7/person/9").json()["id"] == "org/7/person/9"
        assert client.get(_url("org/7/person/9")).json()["id"] == "org/7/person/9"
        assert client.get("/v1/leads/org/7/person/9/explain").json()["lead_id"] == "org/7/person/9"
        assert client.get("/v1/leads/org%2F7/person%2F9").json()["id"] == "org/7/person/9"


def test_bad_ids_in_the_path_are_clear_errors(live: Live) -> None:
    with live.client("admin") as client:
        too_long = client.get(_url("x/" * 200))
        assert too_long.status_code == 422 and "255" in too_long.json()["detail"]
        assert client.get("/v1/leads/a%00b").status_code == 422  # NUL: no store holds it
        assert client.get("/v1/leads/%FF%FE").status_code == 404  # undecodable: an id no lead has
        assert client.get("/v1/leads/nobody%2Fhere/explain").status_code == 404


def test_an_unknown_id_with_a_slash_is_a_404_naming_it(live: Live) -> None:
    with live.client("read") as client:
        response = client.get(_url("no/such/lead"))
    assert response.status_code == 404
    assert "no/such/lead" in response.json()["detail"]


def test_an_id_encoded_by_a_standard_client_is_found(live: Live) -> None:
    """httpx (like browsers and curl) sends `%2F` as written; `quote(safe="")` is the rule."""
    with live.client("admin") as client:
        assert client.put(_url("std/ok"), json={"attributes": {}}).status_code == 200
    response = httpx.get(
        f"{live.url}/v1/leads/{quote('std/ok', safe='')}", headers={"Authorization": f"Bearer {live.keys['read']}"}
    )
    assert response.status_code == 200 and response.json()["id"] == "std/ok"


@pytest.mark.parametrize("raw_has_root", [True, False])
def test_behind_a_proxy_prefix_an_encoded_id_still_routes(raw_has_root: bool) -> None:
    """ASGI servers differ on whether `raw_path` carries the `root_path`; both are handled."""
    import asyncio

    from leadscore.api.paths import KeepSlashes

    seen: dict[str, str] = {}

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        seen["path"] = str(scope["path"])

    raw = b"/api/v1/leads/a%2Fb%20c" if raw_has_root else b"/v1/leads/a%2Fb%20c"
    scope = {"type": "http", "root_path": "/api", "path": "/api/v1/leads/a/b c", "raw_path": raw}
    asyncio.run(KeepSlashes(app, ("/v1/leads/",))(scope, None, None))  # type: ignore[arg-type]
    assert seen["path"] == "/api/v1/leads/a%2Fb c"
