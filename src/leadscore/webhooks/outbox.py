"""The outbox: trigger firings waiting for delivery, and the repository interface behind it.

Firings are written to the outbox in the same transaction as the change that caused them, keyed by
the firing's idempotency key; an insert of a key that is already there is ignored. That is what
makes each transition fire exactly once whatever engine or retry detected it. The dispatcher then
reads due messages through `OutboxRepository`, which the SQL store and `MemoryOutbox` implement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from leadscore.triggers.firings import TriggerFiring

MessageStatus = Literal["pending", "delivered", "dead"]
AttemptOutcome = Literal["delivered", "retry", "dead"]


def canonical_body(payload: Any) -> bytes:
    """The exact bytes sent and signed: compact, sorted-key JSON in UTF-8 (stable across attempts)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False).encode()


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message for one destination. `id` is the firing's key and the `webhook-id` header.

    `attempts` counts attempts since the message was (re)queued; the delivery log keeps them all.
    """

    id: str
    destination: str
    payload: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    status: MessageStatus = "pending"
    attempts: int = 0
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    trigger_id: str | None = None
    lead_id: str | None = None

    def body(self) -> bytes:
        return canonical_body(self.payload)


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One line of the delivery log: an HTTP attempt and what came of it."""

    message_id: str
    destination: str
    number: int
    at: datetime
    outcome: AttemptOutcome
    status_code: int | None
    error: str | None
    duration_ms: float
    next_attempt_at: datetime | None = None


def messages_for(firings: Iterable[TriggerFiring], now: datetime) -> list[OutboxMessage]:
    """Outbox messages for firings, due at once. Firings without a destination are left out."""
    return [
        OutboxMessage(
            id=f.key,
            destination=f.destination,
            payload=f.payload,
            created_at=now,
            next_attempt_at=now,
            trigger_id=f.trigger_id,
            lead_id=f.lead_id,
        )
        for f in firings
        if f.destination is not None
    ]


class OutboxRepository(Protocol):
    """What the dispatcher and `leadscore webhooks redeliver` need from storage.

    Several dispatchers may run at once (cron runs that overlap, several workers): each takes its
    messages with `claim_due`, which must hand a message to one of them only, until the claim's
    lease runs out. Recording the outcome (`mark_delivered`, `schedule_retry`, `dead_letter`)
    releases the claim.
    """

    def fetch_due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        """Up to `limit` pending messages with `next_attempt_at <= now`, the longest waiting first
        (claimed or not: for looking, not for sending)."""
        ...

    def claim_due(self, now: datetime, limit: int, owner: str, lease_until: datetime) -> list[OutboxMessage]:
        """Like `fetch_due`, but only messages no other run holds (never claimed, or their claim
        lapsed at or before `now`), and atomically claimed for `owner` until `lease_until`."""
        ...

    def record_attempt(self, attempt: DeliveryAttempt) -> None:
        """Append to the delivery log and set the message's `attempts`, `last_attempt_at`, `last_error`."""
        ...

    def mark_delivered(self, message_id: str, at: datetime) -> None: ...

    def schedule_retry(self, message_id: str, at: datetime, error: str | None) -> None:
        """Keep the message pending, due again at `at`."""
        ...

    def dead_letter(self, message_id: str, at: datetime, reason: str) -> None:
        """Stop trying: the message waits for a manual redelivery."""
        ...

    def requeue_dead(self, now: datetime, *, ids: Sequence[str] | None = None, destination: str | None = None) -> int:
        """Make dead-lettered messages pending again, due at `now`, with a fresh attempt budget
        (`attempts` = 0). Restricted to `ids` and / or `destination` when given; returns the count."""
        ...
