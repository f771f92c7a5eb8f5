"""Segment Spec intake with payloads written from the Spec's documented examples (identify, track,
page, group, batch), against a real server: ids, traits, properties, context, messageId, time."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.conftest import Live

pytestmark = pytest.mark.integration

CONTEXT = {"ip": "8.8.8.8", "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_5) AppleWebKit/537.36"}

IDENTIFY = {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": CONTEXT,
    "integrations": {"All": False, "Mixpanel": True, "Salesforce": True},
    "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093db",
    "receivedAt": "2015-02-23T22:28:55.387Z",
    "sentAt": "2015-02-23T22:28:55.111Z",
    "timestamp": "2015-02-23T22:28:55.111Z",
    "traits": {"name": "Peter Gibbons", "email": "peter@example.com", "plan": "premium", "logins": 5},
    "type": "identify",
    "userId": "97980cfea0067",
    "version": "1.1",
}

TRACK = {
    "anonymousId": "23adfd82-aa0f-45a7-a756-24f2a7a4c895",
    "context": {
        "library": {"name": "analytics.js", "version": "2.11.1"},
        "page": {
            "path": "/academy/",
            "referrer": "",
            "search": "",
            "title": "Analytics Academy",
            "url": "https://segment.com/academy/",
        },
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_5)",
        "ip": "108.0.78.21",
    },
    "event": "Course Clicked",
    "integrations": {},
    "messageId": "ajs-f8ca1e4de5024d9430b3928bd8ac6b96",
    "properties": {"title": "Intro to Analytics"},
    "receivedAt": "2015-12-12T19:11:01.266Z",
    "sentAt": "2015-12-12T19:11:01.169Z",
    "timestamp": "2015-12-12T19:11:01.249Z",
    "type": "track",
    "userId": "AiUGstSDIg",
    "originalTimestamp": "2015-12-12T19:11:01.152Z",
}

PAGE = {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": {
        **CONTEXT,
        "campaign": {"name": "TPS Innovation Newsletter", "source": "Newsletter", "medium": "email"},
    },
    "integrations": {"All": True, "Mixpanel": False, "Salesforce": False},
    "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093dc",
    "name": "Home",
    "properties": {"title": "Welcome | Initech", "url": "http://www.example.com", "path": "/pricing"},
    "receivedAt": "2015-02-23T22:28:55.387Z",
    "sentAt": "2015-02-23T22:28:55.111Z",
    "timestamp": "2015-02-23T22:28:55.111Z",
    "type": "page",
    "version": "1.1",
}

GROUP = {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": CONTEXT,
    "groupId": "0e8c78ea9d97a7b8185e8632",
    "messageId": "022bb90c-bbac-11e4-8dfc-aa07a5b093dd",
    "receivedAt": "2015-02-23T22:28:55.387Z",
    "sentAt": "2015-02-23T22:28:55.111Z",
    "timestamp": "2015-02-23T22:28:55.111Z",
    "traits": {"name": "Initech", "industry": "Technology", "employees": 329, "plan": "enterprise"},
    "type": "group",
    "userId": "97980cfea0067",
    "version": "1.1",
}


def _export(live: Live, lead: str) -> dict[str, Any]:
    with live.client("admin") as admin:
        response = admin.get(f"/v1/leads/{lead}/export")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_page_then_identify_moves_the_visitor_history_onto_the_lead(live: Live) -> None:
    with live.client("write") as client:
        assert client.post("/v1/segment/page", json=PAGE).status_code == 200
        visitor = _export(live, "anon:507f191e810c19729de860ea")
        (view,) = visitor["events"]
        assert view["type"] == "page_view" and view["id"] == PAGE["messageId"]
        props = view["properties"]
        assert props["title"] == "Welcome | Initech" and props["path"] == "/pricing" and props["page_name"] == "Home"
        assert props["utm_campaign"] == "TPS Innovation Newsletter" and props["utm_medium"] == "email"
        assert props["channel"] == "browser"
        assert "ip" not in props and "userAgent" not in props  # not stored
        assert client.post("/v1/segment/identify", json=IDENTIFY).status_code == 200
    lead = _export(live, "97980cfea0067")
    assert lead["lead"]["attributes"] == IDENTIFY["traits"]
    assert {e["type"] for e in lead["events"]} == {"page_view", "identify"}
    assert any(e["received_lead_id"] == "anon:507f191e810c19729de860ea" for e in lead["events"])
    with live.client("admin") as admin:
        assert admin.get("/v1/leads/anon:507f191e810c19729de860ea").status_code == 404
        # later anonymous events follow the lead
        later = {**PAGE, "messageId": "later-1", "timestamp": "2015-02-24T10:00:00Z", "receivedAt": None}
        assert admin.post("/v1/segment/page", json=later).status_code == 200
    assert len(_export(live, "97980cfea0067")["events"]) == 3


def test_track_maps_the_event_and_messageid_makes_retries_harmless(live: Live) -> None:
    with live.client("write") as client:
        first = client.post("/v1/segment/track", json=TRACK)
        again = client.post("/v1/segment", json=TRACK)
    assert first.json()["inserted"] == 1 and again.json()["inserted"] == 0
    (event,) = _export(live, "AiUGstSDIg")["events"]
    assert event["type"] == "course_clicked" and event["properties"]["event"] == "Course Clicked"
    assert event["properties"]["title"] == "Intro to Analytics"  # properties win over context.page
    assert event["properties"]["url"] == "https://segment.com/academy/"
    assert event["timestamp"] == "2015-12-12T19:11:01.249000Z"  # already corrected by the platform


def test_group_sets_the_account_and_its_traits(live: Live) -> None:
    with live.client("write") as client:
        assert client.post("/v1/segment/group", json=GROUP).status_code == 200
    attrs = _export(live, "97980cfea0067")["lead"]["attributes"]
    assert attrs["account"] == "0e8c78ea9d97a7b8185e8632"
    assert attrs["account_employees"] == 329 and attrs["account_industry"] == "Technology"
    with live.client("read") as client:
        assert client.get("/v1/accounts/0e8c78ea9d97a7b8185e8632").json()["leads"] == 1


def test_device_clock_skew_is_corrected_as_the_spec_says(live: Live) -> None:
    # The device clock is a year behind; the call was made 30 s before it was sent.
    device_now = datetime.now(UTC) - timedelta(days=365)
    call = {
        "type": "track",
        "event": "Skewed",
        "userId": "skew-1",
        "messageId": "skew-msg",
        "timestamp": (device_now - timedelta(seconds=30)).isoformat(),
        "sentAt": device_now.isoformat(),
    }
    with live.client("write") as client:
        assert client.post("/v1/segment/track", json=call).status_code == 200
    (event,) = _export(live, "skew-1")["events"]
    stored = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    expected = datetime.now(UTC) - timedelta(seconds=30)
    assert abs((stored - expected).total_seconds()) < 10


def test_a_batch_with_one_bad_call_is_refused_whole_or_kept_in_part(live: Live) -> None:
    calls = [
        {**TRACK, "userId": "batch-1", "messageId": "b-1"},
        {"type": "track", "userId": "batch-1", "messageId": "b-2"},  # no event name
        {**PAGE, "anonymousId": "batch-anon", "messageId": "b-3"},
    ]
    body = {"batch": calls, "context": {"library": {"name": "analytics-python"}}, "sentAt": None}
    with live.client("write") as client:
        refused = client.post("/v1/segment/batch", json={"batch": calls})
        assert refused.status_code == 422
        problem = refused.json()
        assert problem["errors"][0]["loc"] == ["body", "batch", 1, "event"]
        assert client.get("/v1/leads/batch-1").status_code == 404  # nothing stored
        kept = client.post("/v1/segment/batch?partial=true", json={k: v for k, v in body.items() if v})
    assert kept.status_code == 200
    report = kept.json()
    assert report["inserted"] == 2 and [r["index"] for r in report["rejected"]] == [1]


def test_write_key_as_basic_user_name_as_segment_libraries_send_it(live: Live) -> None:
    basic = base64.b64encode(f"{live.keys['write']}:".encode()).decode()
    call = {**TRACK, "userId": "basic-1", "messageId": "basic-msg"}
    response = httpx.post(live.url + "/v1/segment/track", json=call, headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200


def test_identify_never_merges_two_known_leads(live: Live) -> None:
    """A shared browser: the visitor id was identified as one person; another identify with the same
    visitor id must not pull the first person's history into the second."""
    with live.client("write") as client:
        page = {**PAGE, "anonymousId": "shared-browser", "messageId": "sb-1"}
        assert client.post("/v1/segment/page", json=page).status_code == 200
        first = {**IDENTIFY, "anonymousId": "shared-browser", "userId": "alice", "messageId": "sb-2", "traits": {}}
        assert client.post("/v1/segment/identify", json=first).status_code == 200
        second = {**IDENTIFY, "anonymousId": "shared-browser", "userId": "bob", "messageId": "sb-3", "traits": {}}
        assert client.post("/v1/segment/identify", json=second).status_code == 200
    alice = _export(live, "alice")
    bob = _export(live, "bob")
    assert {e["type"] for e in alice["events"]} == {"page_view", "identify"}
    assert [e["type"] for e in bob["events"]] == ["identify"]
    assert all(a["alias"] != "alice" for a in bob["aliases"])


def test_a_call_without_any_id_is_a_located_422(live: Live) -> None:
    with live.client("write") as client:
        response = client.post("/v1/segment/track", json={"event": "X"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "userId"]


def test_an_anonymous_id_too_long_for_a_lead_id_with_its_prefix_is_a_located_422(live: Live) -> None:
    """An anonymous visitor is lead `anon:<id>`, and a lead id holds at most 255 characters: the
    anonymousId may have 250, and a longer one is refused naming it (PostgreSQL refused the longer
    lead id with a database error, SQLite kept an id no reader accepts)."""
    longest = "a" * (255 - len("anon:"))
    with live.client("write") as client:
        refused = client.post("/v1/segment/page", json={**PAGE, "anonymousId": longest + "a", "messageId": "long-1"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["loc"] == ["body", "anonymousId"]
        linked = client.post("/v1/segment/identify", json={**IDENTIFY, "anonymousId": longest + "a", "messageId": "l2"})
        assert linked.status_code == 422 and linked.json()["errors"][0]["loc"] == ["body", "anonymousId"]
        kept = client.post("/v1/segment/page", json={**PAGE, "anonymousId": longest, "messageId": "long-2"})
        assert kept.status_code == 200, kept.text
    (view,) = _export(live, "anon:" + longest)["events"]
    assert view["id"] == "long-2"
