"""Segment `alias` calls written from the Spec's documented examples (the basic `jen@email.com` ->
`507f191e81` payload and the complete one), alone and inside `batch`, against a real server; and the
rules of an identify made from a tracking URL (the tracker's `?ls_id=`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Live
from tests.api.server import Server, create_key, make_workspace

pytestmark = pytest.mark.integration

# The Spec's basic example: the user's existing id (an e-mail address) becomes a database id.
BASIC = {"type": "alias", "previousId": "jen@email.com", "userId": "507f191e81"}

# The Spec's complete example.
COMPLETE = {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": {
        "ip": "8.8.8.8",
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_5) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/40.0.2214.115 Safari/537.36",
    },
    "integrations": {"All": True, "Mixpanel": False, "Salesforce": False},
    "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
    "previousId": "39239-239239-239239-23923",
    "receivedAt": "2015-02-23T22:28:55.387Z",
    "sentAt": "2015-02-23T22:28:55.111Z",
    "timestamp": "2015-02-23T22:28:55.111Z",
    "type": "alias",
    "userId": "507f191e81",
    "version": "1.1",
}


def _export(live: Live, lead: str) -> dict[str, Any] | None:
    with live.client("admin") as admin:
        response = admin.get(f"/v1/leads/{lead}/export")
    return response.json() if response.status_code == 200 else None


def _track(lead: str, message: str, **extra: Any) -> dict[str, Any]:
    return (
        {"type": "track", "event": "Pricing Viewed", "messageId": message, "timestamp": "2015-02-20T10:00:00Z"}
        | {"userId": lead}
        | extra
    )


def test_the_basic_example_merges_the_previous_user_into_the_new_id(live: Live) -> None:
    with live.client("write") as client:
        assert client.post("/v1/segment/track", json=_track("jen@email.com", "jen-1")).status_code == 200
        traits = {"type": "identify", "userId": "jen@email.com", "traits": {"name": "Jen", "plan": "pro"}}
        assert client.post("/v1/segment/identify", json=traits).status_code == 200
        done = client.post("/v1/segment/alias", json=BASIC)
        assert done.status_code == 200, done.text
    lead = _export(live, "507f191e81")
    assert lead is not None and lead["lead"]["id"] == "507f191e81"
    assert lead["lead"]["attributes"]["name"] == "Jen" and lead["lead"]["attributes"]["plan"] == "pro"
    assert any(e["received_lead_id"] == "jen@email.com" and e["type"] == "pricing_viewed" for e in lead["events"])
    assert "jen@email.com" in {a["alias"] for a in lead["aliases"]}
    # the previous id now answers with the user, and later calls under it land there
    aliased = _export(live, "jen@email.com")
    assert aliased is not None and aliased["lead"]["id"] == "507f191e81"
    with live.client("write") as client:
        assert client.post("/v1/segment/track", json=_track("jen@email.com", "jen-2")).status_code == 200
    after = _export(live, "507f191e81")
    assert after is not None and len(after["events"]) == len(lead["events"]) + 1


def test_the_complete_example_inside_a_batch_moves_the_anonymous_history(live: Live) -> None:
    visitor = COMPLETE["previousId"]
    page = {"type": "page", "anonymousId": visitor, "messageId": "c-page-1", "name": "Pricing"}
    page |= {"timestamp": "2015-02-23T22:20:00Z", "receivedAt": "2015-02-23T22:20:01Z"}
    with live.client("write") as client:
        answer = client.post("/v1/segment/batch", json={"batch": [page, COMPLETE]})
        assert answer.status_code == 200, answer.text
        again = client.post("/v1/segment/batch", json={"batch": [page, COMPLETE]})
        assert again.json()["inserted"] == 0  # messageId: a retried batch changes nothing
    lead = _export(live, "507f191e81")
    assert lead is not None
    moved = [e for e in lead["events"] if e["received_lead_id"] == f"anon:{visitor}"]
    assert [e["type"] for e in moved] == ["page_view"]
    alias_events = [e for e in lead["events"] if e["id"] == COMPLETE["messageId"]]
    assert len(alias_events) == 1 and alias_events[0]["type"] == "identify"
    assert alias_events[0]["timestamp"] == "2015-02-23T22:28:55.111000Z"  # receivedAt present: taken as is
    props = alias_events[0]["properties"]
    assert props["previous_id"] == visitor and props["channel"] == "browser"
    assert "ip" not in props and "userAgent" not in props
    with live.client("write") as client:  # the visitor's later calls follow the user
        later = {**page, "messageId": "c-page-2", "timestamp": "2015-02-24T09:00:00Z", "receivedAt": None}
        assert client.post("/v1/segment/page", json={k: v for k, v in later.items() if v}).status_code == 200
    after = _export(live, "507f191e81")
    assert after is not None
    assert any(e["id"].endswith("c-page-2") and e["received_lead_id"] == f"anon:{visitor}" for e in after["events"])


def test_a_public_intake_key_may_alias_a_visitor_but_not_merge_a_known_lead(live: Live) -> None:
    headers = {"Authorization": f"Bearer {live.keys['intake']}", "Origin": "http://127.0.0.1:9"}
    with live.client("write") as client:
        assert client.post("/v1/segment/track", json=_track("known-victim", "kv-1")).status_code == 200
        visit = {"type": "page", "anonymousId": "tab-77", "messageId": "kv-2"}
        assert client.post("/v1/segment/page", json=visit).status_code == 200
    steal = {"type": "alias", "previousId": "known-victim", "userId": "attacker", "messageId": "kv-3"}
    refused = httpx.post(f"{live.url}/v1/segment/alias", json=steal, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["body", "previousId"]
    assert "write scope" in refused.json()["errors"][0]["msg"]
    victim = _export(live, "known-victim")
    assert victim is not None and victim["lead"]["id"] == "known-victim"  # untouched
    visitor = {"type": "alias", "previousId": "tab-77", "userId": "signed-up-77", "messageId": "kv-4"}
    assert httpx.post(f"{live.url}/v1/segment/alias", json=visitor, headers=headers).status_code == 200
    lead = _export(live, "signed-up-77")
    assert lead is not None and any(e["received_lead_id"] == "anon:tab-77" for e in lead["events"])


@pytest.mark.parametrize(
    ("call", "loc"),
    [
        ({"type": "alias", "previousId": "x"}, ["body", "userId"]),
        ({"type": "alias", "userId": "x"}, ["body", "previousId"]),
        ({"type": "alias", "userId": "x", "previousId": ""}, ["body", "previousId"]),
        ({"type": "alias", "userId": "x", "previousId": 5}, ["body", "previousId"]),
        ({"type": "alias", "userId": "x", "previousId": "p" * 251}, ["body", "previousId"]),
    ],
)
def test_a_bad_alias_is_a_located_422(live: Live, call: dict[str, Any], loc: list[str]) -> None:
    with live.client("write") as client:
        response = client.post("/v1/segment/alias", json=call)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc


def test_an_alias_of_the_anonymous_id_without_previous_id_is_what_analytics_js_sends(live: Live) -> None:
    with live.client("write") as client:
        assert client.post("/v1/segment/page", json={"type": "page", "anonymousId": "ajs-9"}).status_code == 200
        sent = client.post("/v1/segment", json={"type": "alias", "userId": "u-9", "anonymousId": "ajs-9"})
        assert sent.status_code == 200, sent.text
    lead = _export(live, "u-9")
    assert lead is not None and any(e["received_lead_id"] == "anon:ajs-9" for e in lead["events"])


URL_MARK = {"leadscore": {"source": "url"}}


def _from_url(user: str, visitor: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user,
        "anonymousId": visitor,
        "messageId": message,
        "context": URL_MARK,
    } | extra


def test_a_url_identify_links_a_visitor_to_an_existing_lead_only(live: Live) -> None:
    headers = {"Authorization": f"Bearer {live.keys['intake']}", "Origin": "http://127.0.0.1:9"}
    with live.client("write") as client:
        assert client.put("/v1/leads/mailed@example.com", json={"attributes": {"plan": "free"}}).status_code == 200
        assert client.post("/v1/segment/page", json={"type": "page", "anonymousId": "v-url-1"}).status_code == 200

    def send(call: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{live.url}/v1/segment/identify", json=call, headers=headers)

    unknown = send(_from_url("made-up@example.com", "v-url-1", "u-1"))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["loc"] == ["body", "userId"]
    assert _export(live, "made-up@example.com") is None  # no lead made from a link
    traits = send(_from_url("mailed@example.com", "v-url-1", "u-2", traits={"plan": "enterprise"}))
    assert traits.status_code == 422 and traits.json()["errors"][0]["loc"] == ["body", "traits"]
    assert send(_from_url("anon:v-url-0", "v-url-1", "u-3")).status_code == 422
    assert send(_from_url("mailed@example.com", "v-url-1", "u-4")).status_code == 200
    lead = _export(live, "mailed@example.com")
    assert lead is not None and lead["lead"]["attributes"] == {"plan": "free"}
    assert any(e["received_lead_id"] == "anon:v-url-1" and e["type"] == "page_view" for e in lead["events"])


@pytest.fixture(scope="module")
def url_identify_off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = make_workspace(tmp_path_factory.mktemp("off"))
    keys = {"write": create_key(root, "w", "write")}
    server = Server(root, env={"LEADSCORE_API_URL_IDENTIFY": "false"}).start()
    try:
        yield Live(server.url, root, keys)
    finally:
        server.stop()


def test_url_identify_can_be_turned_off_on_the_server(url_identify_off: Live, tmp_path: Path) -> None:
    live = url_identify_off
    with live.client("write") as client:
        assert client.put("/v1/leads/mailed@example.com", json={"attributes": {}}).status_code == 200
        refused = client.post("/v1/segment/identify", json=_from_url("mailed@example.com", "v-off", "off-1"))
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["loc"] == ["body", "context", "leadscore"]
        plain = {"type": "identify", "userId": "mailed@example.com", "anonymousId": "v-off", "messageId": "off-2"}
        assert client.post("/v1/segment/identify", json=plain).status_code == 200  # other identifies still work
