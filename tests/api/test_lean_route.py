"""`POST /v1/events` answers its common request on a hand-written path (leadscore.api.lean); every request
must get the same answer as on FastAPI's ordinary path, which a query (`?wait=false`) forces."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import Live

pytestmark = pytest.mark.integration

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12))
ODD = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=2), st.dictionaries(st.text(max_size=4), JSON_SCALARS))
FIELDS = {
    "lead_id": st.one_of(st.just("jane"), st.just(""), st.just("a\x00b"), st.text(max_size=8), ODD),
    "type": st.one_of(st.just("page_view"), st.just("bad type!"), st.text(max_size=8), ODD),
    "timestamp": st.one_of(st.just("2026-05-30T09:00:00Z"), st.just("2026-05-30"), st.just("yesterday"), ODD),
    "properties": st.one_of(st.just({"path": "/pricing"}), st.just({"n": "5"}), ODD),
    "extra": ODD,
}


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A body (mostly an event with some fields odd, missing or extra) and its content type."""
    event: dict[str, Any] = {"lead_id": "jane", "type": "page_view", "timestamp": "2026-05-30T09:00:00Z"}
    for name, values in FIELDS.items():
        choice = draw(st.sampled_from(["keep", "keep", "odd", "drop"]))
        if choice == "odd":
            event[name] = draw(values)
        elif choice == "drop":
            event.pop(name, None)
    raw = json.dumps(event).encode()
    raw = draw(st.sampled_from([raw, raw, raw[: len(raw) // 2], b"", b"[]", b"NaN", b'{"lead_id": NaN}']))
    content_type = draw(
        st.sampled_from(["application/json", "application/json", "application/json; charset=utf-8", "text/plain", None])
    )
    return raw, content_type


def post(live: Live, raw: bytes, content_type: str | None, key: str | None, query: str = "") -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if content_type:
        headers["Content-Type"] = content_type
    return httpx.post(f"{live.url}/v1/events{query}", content=raw, headers=headers, timeout=30)


def comparable(response: httpx.Response) -> tuple[int, Any]:
    body = response.json()
    if response.status_code == 200:  # each path stored its own copy of the event (or both found it stored)
        return 200, sorted(body)
    return response.status_code, body


@given(body=bodies(), key=st.sampled_from(["write", "read", "wrong", None]))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_lean_path_answers_as_the_ordinary_path(live: Live, body: tuple[bytes, str | None], key: str) -> None:
    raw, content_type = body
    token = {"wrong": "lsk_000000000000_" + "x" * 40, None: None}.get(key, live.keys.get(key or ""))
    lean = post(live, raw, content_type, token)
    ordinary = post(live, raw, content_type, token, "?wait=false")
    assert comparable(lean) == comparable(ordinary), (raw, content_type, key)
    assert lean.status_code < 500


def test_an_event_sent_on_the_lean_path_is_stored_and_reported(live: Live) -> None:
    event = {"id": uuid.uuid4().hex, "lead_id": "lean-1", "type": "demo_request", "timestamp": "2026-05-30T09:00:00Z"}
    with live.client("write") as client:
        first = client.post("/v1/events", json=event)
        again = client.post("/v1/events", json=event)
        assert first.status_code == 200, first.text
        assert first.headers["content-type"] == "application/json"
        assert first.json()["received"] == 1 and first.json()["inserted"] == 1
        assert again.json()["inserted"] == 0  # the same event twice changes nothing
        assert client.get("/v1/leads/lean-1").status_code == 200


def test_the_lean_path_checks_the_key_and_its_scope(live: Live) -> None:
    event = {"lead_id": "lean-2", "type": "page_view", "timestamp": "2026-05-30T09:00:00Z"}
    assert httpx.post(live.url + "/v1/events", json=event).status_code == 401
    for key, status in (("revoked", 401), ("read", 403), ("intake", 403), ("write", 200), ("admin", 200)):
        # the intake key of the fixture may only send from its site's origin: refused without one
        with live.client(key) as client:
            response = client.post("/v1/events", json=event)
        assert response.status_code == status, (key, response.text)
        if status != 200:
            assert response.headers["content-type"] == "application/problem+json"
    with httpx.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {live.keys['intake']}", "Origin": "http://127.0.0.1:9"}
    ) as site:
        assert site.post("/v1/events", json=event).status_code == 200


def _requests(live: Live, status: int) -> float:
    """`POST /v1/events` requests answered with `status`, as the metrics count them."""
    with live.client("admin") as admin:
        text = admin.get("/metrics").text
    label = f'leadscore_http_requests_total{{method="POST",route="/v1/events",status="{status}"}}'
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(label))


def test_requests_the_shortcut_answers_or_passes_on_are_counted_once(live: Live) -> None:
    """The shortcut before the middleware stack (leadscore.api.lean.Shortcut) counts what it answers as
    the stack's metrics would; what it passes on (a bad key) the stack counts, once."""
    ok, refused = _requests(live, 200), _requests(live, 401)
    event = {"lead_id": "short-1", "type": "page_view", "timestamp": "2026-05-30T09:00:00Z"}
    assert post(live, json.dumps(event).encode(), "application/json", live.keys["write"]).status_code == 200
    wrong = post(live, json.dumps(event).encode(), "application/json", "lsk_000000000000_" + "x" * 40)
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"
    assert _requests(live, 200) == ok + 1
    assert _requests(live, 401) == refused + 1


def test_the_lean_answer_is_the_ordinary_answer_value_for_value(live: Live) -> None:
    """Its report's JSON is built once per outcome (leadscore.api.intake.report_response); events the
    model may refuse (a stage move, an identify) go to the ordinary path, which checks them."""

    def pair(event: dict[str, Any]) -> tuple[httpx.Response, httpx.Response]:
        token = live.keys["write"]
        lean = post(live, json.dumps({**event, "id": uuid.uuid4().hex}).encode(), "application/json", token)
        ordinary = post(
            live, json.dumps({**event, "id": uuid.uuid4().hex}).encode(), "application/json", token, "?wait=false"
        )
        return lean, ordinary

    at = "2026-05-30T09:00:00Z"
    for event in (
        {"lead_id": "same-1", "type": "page_view", "timestamp": at, "properties": {"path": "/pricing"}},
        {"lead_id": "same-2", "type": "stage_set", "timestamp": at, "properties": {"stage": "no such stage"}},
        {"lead_id": "same-3", "type": "identify", "timestamp": at, "properties": {"anonymous_id": "anon-same-3"}},
    ):
        lean, ordinary = pair(event)
        assert (lean.status_code, lean.json()) == (ordinary.status_code, ordinary.json()), event
        assert lean.headers["content-type"] == ordinary.headers["content-type"]
    assert lean.status_code == 200 and pair(dict(event, lead_id="same-1"))[0].json()["inserted"] == 1
