"""Delivery against a real HTTP server on 127.0.0.1 that checks every signature itself."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.engine import score
from leadscore.model import parse_model
from leadscore.triggers.firings import detect_triggers
from leadscore.webhooks import (
    Destination,
    MemoryOutbox,
    OutboxMessage,
    WebhookDispatcher,
    generate_secret,
    messages_for,
    verify,
)
from tests.webhooks.receiver import Receiver, Reply, running

pytestmark = pytest.mark.integration

SECRET = generate_secret()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running(Receiver(SECRET)) as r:
        yield r


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:  # one per module: building a client's TLS context is slow
        yield c


@pytest.fixture
def outbox() -> MemoryOutbox:
    return MemoryOutbox()


Make = Callable[..., WebhookDispatcher]


@pytest.fixture
def dispatcher(outbox: MemoryOutbox, client: httpx.Client) -> Make:
    def make(url: str, name: str = "crm", **options: Any) -> WebhookDispatcher:
        opts: dict[str, Any] = {"backoff_base_s": 2.0, "backoff_factor": 3.0, "backoff_cap_s": 600.0, **options}
        dest = Destination(name=name, url=url, secret=SECRET, **opts)
        return WebhookDispatcher([dest], outbox, client)

    return make


def now() -> datetime:
    return datetime.now(UTC)


def put(outbox: MemoryOutbox, mid: str, destination: str = "crm", at: datetime | None = None) -> OutboxMessage:
    when = at or now()
    msg = OutboxMessage(mid, destination, {"type": "lead.test", "data": {"id": mid}}, when, when)
    assert outbox.enqueue([msg]) == 1
    return msg


def test_delivered_with_a_valid_signature(receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make) -> None:
    send = dispatcher(receiver.on("/ok", Reply(200)))
    msg = put(outbox, "trg_ok")
    report = send.deliver_due()
    assert (report.delivered, report.retried, report.dead_lettered) == (1, 0, 0)

    [got] = receiver.at("/ok")
    assert got.signature_ok
    assert got.headers["webhook-id"] == "trg_ok"
    assert got.headers["content-type"] == "application/json"
    assert json.loads(got.body) == msg.payload
    assert verify(SECRET, got.body, got.headers) == "trg_ok"
    assert outbox.get("trg_ok").status == "delivered"
    [attempt] = outbox.delivery_log("trg_ok")
    assert (attempt.number, attempt.status_code, attempt.outcome) == (1, 200, "delivered")
    assert send.deliver_due().attempts == ()  # nothing left to do


def test_retried_with_backoff_then_delivered(receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make) -> None:
    send = dispatcher(receiver.on("/flaky", Reply(500, body="db down"), Reply(502), Reply(200)))
    put(outbox, "trg_flaky")
    t0 = now()
    first = send.deliver_due(t0).attempts[0]
    assert (first.outcome, first.status_code, first.error) == ("retry", 500, "HTTP 500: db down")
    assert first.next_attempt_at is not None
    assert t0 + timedelta(seconds=2 * 0.8) <= first.next_attempt_at <= t0 + timedelta(seconds=2)
    assert send.deliver_due(t0 + timedelta(seconds=1)).attempts == ()  # not due yet

    second = send.deliver_due(first.next_attempt_at).attempts[0]
    assert (second.number, second.outcome, second.status_code) == (2, "retry", 502)
    assert second.next_attempt_at is not None
    wait = (second.next_attempt_at - first.next_attempt_at).total_seconds()
    assert 6 * 0.8 <= wait <= 6

    third = send.deliver_due(second.next_attempt_at).attempts[0]
    assert (third.number, third.outcome) == (3, "delivered")
    assert [r.headers["webhook-id"] for r in receiver.at("/flaky")] == ["trg_flaky"] * 3
    assert all(r.signature_ok for r in receiver.at("/flaky"))
    assert [a.status_code for a in outbox.delivery_log("trg_flaky")] == [500, 502, 200]


def test_dead_lettered_after_max_attempts_then_redelivered(
    receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make
) -> None:
    send = dispatcher(receiver.on("/down", Reply(503)), max_attempts=3)
    put(outbox, "trg_down")
    t = now()
    outcomes = []
    for _ in range(3):
        [attempt] = send.deliver_due(t).attempts
        outcomes.append(attempt.outcome)
        t = attempt.next_attempt_at or t
    assert outcomes == ["retry", "retry", "dead"]
    dead = outbox.get("trg_down")
    assert dead.status == "dead" and dead.last_error == "gave up after 3 attempts: HTTP 503"
    assert send.deliver_due(t + timedelta(days=30)).attempts == ()

    receiver.on("/down", Reply(200))
    assert outbox.requeue_dead(t, ids=["trg_down"]) == 1
    assert send.deliver_due(t).delivered == 1
    assert len(receiver.at("/down")) == 4


@pytest.mark.parametrize("status", [400, 404, 410, 422])
def test_client_errors_are_permanent(receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make, status: int) -> None:
    send = dispatcher(receiver.on(f"/refuse{status}", Reply(status)))
    put(outbox, f"trg_refuse{status}")
    [attempt] = send.deliver_due().attempts
    assert (attempt.outcome, attempt.status_code, attempt.number) == ("dead", status, 1)
    assert outbox.get(f"trg_refuse{status}").last_error == f"permanent failure, HTTP {status}"


@pytest.mark.parametrize("status", [408, 409, 425, 429, 301])
def test_some_client_answers_are_worth_a_retry(
    receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make, status: int
) -> None:
    send = dispatcher(receiver.on(f"/later{status}", Reply(status, headers={"location": "/elsewhere"})))
    put(outbox, f"trg_later{status}")
    assert send.deliver_due().attempts[0].outcome == "retry"


def test_retry_after_is_honoured(receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make) -> None:
    send = dispatcher(receiver.on("/busy", Reply(429, headers={"Retry-After": "120"})))
    put(outbox, "trg_busy")
    t0 = now()
    [attempt] = send.deliver_due(t0).attempts
    assert attempt.next_attempt_at == t0 + timedelta(seconds=120)
    assert outbox.get("trg_busy").next_attempt_at == t0 + timedelta(seconds=120)


def test_a_slow_receiver_times_out_and_is_retried(receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make) -> None:
    send = dispatcher(receiver.on("/slow", Reply(200, delay_s=2.0)), timeout_s=0.2)
    put(outbox, "trg_slow")
    [attempt] = send.deliver_due().attempts
    assert attempt.outcome == "retry" and attempt.status_code is None
    assert attempt.error is not None and attempt.error.startswith("timed out after 0.2 s")
    assert attempt.duration_ms < 1500  # gave up long before the 2 s answer


def test_connection_refused_is_retried(outbox: MemoryOutbox, dispatcher: Make) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    send = dispatcher(f"http://127.0.0.1:{port}/hook")
    put(outbox, "trg_refused")
    [attempt] = send.deliver_due().attempts
    assert attempt.outcome == "retry"
    assert attempt.error is not None and "ConnectError" in attempt.error


def test_unknown_destination_is_dead_lettered_without_a_request(
    receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make
) -> None:
    send = dispatcher(receiver.on("/never", Reply(200)))
    put(outbox, "trg_nowhere", destination="erp")
    [attempt] = send.deliver_due().attempts
    assert attempt.outcome == "dead"
    assert outbox.get("trg_nowhere").last_error == "destination 'erp' is not configured in the workspace"
    assert receiver.at("/never") == []


def test_a_payload_that_is_not_json_is_dead_lettered(
    receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make
) -> None:
    send = dispatcher(receiver.on("/nan", Reply(200)))
    t = now()
    outbox.enqueue([OutboxMessage("trg_nan", "crm", {"score": float("nan")}, t, t)])
    [attempt] = send.deliver_due(t).attempts
    assert attempt.outcome == "dead" and attempt.error is not None and "not JSON" in attempt.error
    assert receiver.at("/nan") == []


def test_batches_are_limited(receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make) -> None:
    send = dispatcher(receiver.on("/many", Reply(200)))
    t = now()
    for i in range(5):
        put(outbox, f"trg_many{i}", at=t)
    assert send.deliver_due(t, limit=2).delivered == 2
    assert send.deliver_due(t).delivered == 3
    assert len({r.headers["webhook-id"] for r in receiver.at("/many")}) == 5


def test_rotated_secret_is_still_accepted(receiver: Receiver, outbox: MemoryOutbox, client: httpx.Client) -> None:
    dest = Destination(
        name="crm", url=receiver.on("/rotated", Reply(200)), secret=generate_secret(), previous_secrets=(SECRET,)
    )
    put(outbox, "trg_rotated")
    assert WebhookDispatcher({"crm": dest}, outbox, client).deliver_due().delivered == 1
    [got] = receiver.at("/rotated")
    assert got.signature_ok and len(got.headers["webhook-signature"].split()) == 2


MODEL = """
format: 1
name: e2e
rules: [{id: visit, on: page_view, points: 10}]
lifecycle:
  stages: [lead, mql, sql]
  transitions: [{to: mql, when: {score: total, gte: 20}}, {to: sql, when: {score: total, gte: 30}}]
triggers:
  - {id: to-mql, on: stage_changed, to: mql, destination: crm}
  - {id: any, on: stage_changed, destination: crm}
  - {id: log-only, on: stage_changed}
"""


def test_each_transition_reaches_the_receiver_once(receiver: Receiver, outbox: MemoryOutbox, dispatcher: Make) -> None:
    model = parse_model(MODEL)
    lead = Lead("c-17")
    t = now().replace(microsecond=0) - timedelta(hours=1)
    events = [Event.of("c-17", "page_view", t + timedelta(minutes=m)) for m in (0, 10, 20)]
    previous = score(model, lead, events[:1], t + timedelta(minutes=1))
    for _ in range(3):  # the same change detected again by a retry or another engine
        current = score(model, lead, events, t + timedelta(minutes=30))
        outbox.enqueue(messages_for(detect_triggers(model, previous, current), now()))
    assert len(outbox.messages()) == 3  # to-mql, any (lead->mql), any (mql->sql); log-only has no destination

    send = dispatcher(receiver.on("/e2e", Reply(200)))
    assert send.deliver_due().delivered == 3
    bodies = [json.loads(r.body) for r in receiver.at("/e2e")]
    assert sorted((b["data"]["trigger"], b["data"]["change"]["to"]) for b in bodies) == [
        ("any", "mql"),
        ("any", "sql"),
        ("to-mql", "mql"),
    ]
    assert len({r.headers["webhook-id"] for r in receiver.at("/e2e")}) == 3


def test_a_leads_messages_go_in_order_while_others_go_concurrently(
    receiver: Receiver, outbox: MemoryOutbox, client: httpx.Client
) -> None:
    url = receiver.on("/order", Reply(200, delay_s=0.3))
    dest = Destination(name="crm", url=url, secret=SECRET)
    t = now()
    for i in range(3):  # one lead's transitions, due in this order
        outbox.enqueue([OutboxMessage(f"trg_lead_a{i}", "crm", {"step": i}, t, t, lead_id="a")])
    for i in range(5):
        outbox.enqueue([OutboxMessage(f"trg_other{i}", "crm", {"n": i}, t, t, lead_id=f"o{i}")])
    receiver.most_in_flight = 0
    report = WebhookDispatcher([dest], outbox, client, concurrency=4).deliver_due(t)
    assert report.delivered == 8
    a0, a1, a2 = report.attempts[:3]
    assert [a.message_id for a in (a0, a1, a2)] == ["trg_lead_a0", "trg_lead_a1", "trg_lead_a2"]
    for before, after in ((a0, a1), (a1, a2)):  # each sent once the one before it was answered
        assert after.at >= before.at + timedelta(milliseconds=before.duration_ms * 0.9)
    arrived = [r.headers["webhook-id"] for r in receiver.at("/order")]
    assert [m for m in arrived if m.startswith("trg_lead_a")] == ["trg_lead_a0", "trg_lead_a1", "trg_lead_a2"]
    assert receiver.most_in_flight > 1  # (this receiver is shared: the bound is checked where it is not)
