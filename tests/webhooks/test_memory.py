"""The in-memory outbox: exactly-once enqueue, due order, state changes, redelivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadscore.webhooks import DeliveryAttempt, MemoryOutbox, OutboxMessage

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def message(mid: str, due: datetime = T0, destination: str = "crm") -> OutboxMessage:
    return OutboxMessage(id=mid, destination=destination, payload={"n": mid}, created_at=T0, next_attempt_at=due)


def test_enqueue_ignores_known_ids() -> None:
    box = MemoryOutbox()
    assert box.enqueue([message("a"), message("b")]) == 2
    assert box.enqueue([message("a"), message("c")]) == 1
    assert [m.id for m in box.messages()] == ["a", "b", "c"]


def test_fetch_due_oldest_first_up_to_the_limit() -> None:
    box = MemoryOutbox()
    box.enqueue([message("late", T0 + timedelta(hours=1)), message("b", T0 + timedelta(minutes=1)), message("a")])
    assert [m.id for m in box.fetch_due(T0 + timedelta(minutes=5), 10)] == ["a", "b"]
    assert [m.id for m in box.fetch_due(T0 + timedelta(hours=2), 2)] == ["a", "b"]
    assert box.fetch_due(T0 - timedelta(seconds=1), 10) == []


def test_attempts_states_and_requeue() -> None:
    box = MemoryOutbox()
    box.enqueue([message("a"), message("b", destination="chat"), message("c")])
    for mid in ("a", "b", "c"):
        box.record_attempt(DeliveryAttempt(mid, "crm", 1, T0, "dead", 500, "HTTP 500", 3.0))
        box.dead_letter(mid, T0, "gave up")
    assert box.get("a").attempts == 1 and box.get("a").status == "dead"
    assert box.fetch_due(T0 + timedelta(days=1), 10) == []

    later = T0 + timedelta(days=1)
    assert box.requeue_dead(later, destination="chat") == 1
    assert box.requeue_dead(later, ids=["a"]) == 1
    assert {m.id for m in box.messages("pending")} == {"a", "b"}
    assert box.get("a").attempts == 0 and box.get("a").next_attempt_at == later
    assert len(box.delivery_log("a")) == 1  # the log keeps the earlier attempts

    box.schedule_retry("a", later + timedelta(minutes=1), "HTTP 503")
    assert box.get("a").next_attempt_at == later + timedelta(minutes=1)
    box.mark_delivered("b", later)
    assert box.get("b").status == "delivered" and box.get("b").delivered_at == later


def test_a_claim_hides_messages_from_other_runs_until_its_lease_ends_or_an_outcome() -> None:
    box = MemoryOutbox()
    box.enqueue([message("a"), message("b"), message("c")])
    lease = T0 + timedelta(minutes=5)
    assert [m.id for m in box.claim_due(T0, 2, "run1", lease)] == ["a", "b"]
    assert [m.id for m in box.claim_due(T0, 10, "run2", lease)] == ["c"]
    assert box.claim_due(T0 + timedelta(minutes=1), 10, "run3", lease) == []
    box.schedule_retry("a", T0 + timedelta(minutes=2), "HTTP 503")  # an outcome releases the claim
    assert [m.id for m in box.claim_due(T0 + timedelta(minutes=2), 10, "run3", lease)] == ["a"]
    # run1 died holding b, the others never reported: once their leases end, all is due again
    assert [m.id for m in box.claim_due(lease, 10, "run4", lease + timedelta(minutes=5))] == ["b", "c", "a"]
    assert box.claimed_by("b") == "run4"
