"""An in-memory outbox: for using the library without a database, and for tests.

Thread-safe, so a dispatcher thread and the code that enqueues can share one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from leadscore.webhooks.outbox import DeliveryAttempt, MessageStatus, OutboxMessage


class MemoryOutbox:
    """Implements `OutboxRepository`; `enqueue` ignores ids it already holds (exactly once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, OutboxMessage] = {}
        self._log: list[DeliveryAttempt] = []
        self._claims: dict[str, tuple[str, datetime]] = {}  # message id -> (owner, until)

    # -- writing -------------------------------------------------------------------------------
    def enqueue(self, messages: Iterable[OutboxMessage]) -> int:
        """Add messages whose id is new; returns how many were added."""
        added = 0
        with self._lock:
            for m in messages:
                if m.id not in self._messages:
                    self._messages[m.id] = m
                    added += 1
        return added

    # -- OutboxRepository ----------------------------------------------------------------------
    def fetch_due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        with self._lock:
            due = [m for m in self._messages.values() if m.status == "pending" and m.next_attempt_at <= now]
        due.sort(key=lambda m: (m.next_attempt_at, m.created_at, m.id))
        return due[: max(0, limit)]

    def claim_due(self, now: datetime, limit: int, owner: str, lease_until: datetime) -> list[OutboxMessage]:
        with self._lock:
            free = [
                m
                for m in self._messages.values()
                if m.status == "pending" and m.next_attempt_at <= now and not self._held(m.id, now)
            ]
            free.sort(key=lambda m: (m.next_attempt_at, m.created_at, m.id))
            taken = free[: max(0, limit)]
            for m in taken:
                self._claims[m.id] = (owner, lease_until)
            return taken

    def _held(self, message_id: str, now: datetime) -> bool:
        claim = self._claims.get(message_id)
        return claim is not None and claim[1] > now

    def claimed_by(self, message_id: str) -> str | None:
        with self._lock:
            claim = self._claims.get(message_id)
            return claim[0] if claim else None

    def record_attempt(self, attempt: DeliveryAttempt) -> None:
        with self._lock:
            self._log.append(attempt)
            m = self._get(attempt.message_id)
            self._messages[m.id] = replace(
                m, attempts=attempt.number, last_attempt_at=attempt.at, last_error=attempt.error
            )

    def mark_delivered(self, message_id: str, at: datetime) -> None:
        with self._lock:
            self._claims.pop(message_id, None)
            m = self._get(message_id)
            self._messages[m.id] = replace(m, status="delivered", delivered_at=at, last_error=None)

    def schedule_retry(self, message_id: str, at: datetime, error: str | None) -> None:
        with self._lock:
            self._claims.pop(message_id, None)
            m = self._get(message_id)
            if m.status != "delivered":  # a late report of a run whose lease ran out
                self._messages[m.id] = replace(m, status="pending", next_attempt_at=at, last_error=error)

    def dead_letter(self, message_id: str, at: datetime, reason: str) -> None:
        with self._lock:
            self._claims.pop(message_id, None)
            m = self._get(message_id)
            if m.status != "delivered":
                self._messages[m.id] = replace(m, status="dead", last_error=reason, last_attempt_at=at)

    def requeue_dead(self, now: datetime, *, ids: Sequence[str] | None = None, destination: str | None = None) -> int:
        wanted = set(ids) if ids is not None else None
        count = 0
        with self._lock:
            for m in list(self._messages.values()):
                if m.status != "dead" or (wanted is not None and m.id not in wanted):
                    continue
                if destination is not None and m.destination != destination:
                    continue
                self._messages[m.id] = replace(m, status="pending", attempts=0, next_attempt_at=now)
                count += 1
        return count

    # -- reading -------------------------------------------------------------------------------
    def get(self, message_id: str) -> OutboxMessage:
        with self._lock:
            return self._get(message_id)

    def messages(self, status: MessageStatus | None = None) -> list[OutboxMessage]:
        with self._lock:
            found = [m for m in self._messages.values() if status is None or m.status == status]
        return sorted(found, key=lambda m: (m.created_at, m.id))

    def delivery_log(self, message_id: str | None = None) -> list[DeliveryAttempt]:
        """Every attempt in the order made, or those of one message."""
        with self._lock:
            return [a for a in self._log if message_id is None or a.message_id == message_id]

    def _get(self, message_id: str) -> OutboxMessage:
        try:
            return self._messages[message_id]
        except KeyError:
            raise KeyError(f"no outbox message {message_id!r}") from None
