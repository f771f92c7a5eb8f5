"""The trigger outbox: written in the scoring transaction, drained by the webhook dispatcher.

A firing's key plus its destination is unique, so a transition that is detected again (a retried
batch, a re-run import, a refresh racing an ingest) inserts nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.lifecycle.triggers import TriggerFiring
from leadscore.store.base import LeadStore
from leadscore.store.tables import deliveries, outbox

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def outbox_key(firing: TriggerFiring) -> str:
    return f"{firing.key}:{firing.destination or ''}"


def enqueue(store: LeadStore, conn: Connection, firings: Sequence[TriggerFiring], now: int) -> None:
    rows = [
        {
            "idempotency_key": outbox_key(f),
            "trigger_id": f.trigger_id,
            "lead_id": f.lead_id,
            "destination": f.destination,
            "payload": {"id": f.key, **f.payload},
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "last_error": None,
        }
        for f in firings
    ]
    store.insert_ignore(conn, outbox, rows)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message to deliver: `message_id` is the Standard Webhooks `webhook-id` (the firing key)."""

    id: int
    message_id: str
    trigger_id: str
    lead_id: str
    destination: str | None
    payload: dict[str, Any]
    attempts: int
    status: str


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        message_id=row.payload.get("id", row.idempotency_key),
        trigger_id=row.trigger_id,
        lead_id=row.lead_id,
        destination=row.destination,
        payload={k: v for k, v in row.payload.items() if k != "id"},
        attempts=row.attempts,
        status=row.status,
    )


class SqlOutboxRepository:
    """The outbox seen by a dispatcher: due messages, outcomes of attempts, and the delivery log."""

    def __init__(self, store: LeadStore) -> None:
        self.store = store

    def due(self, now: int, limit: int = 100) -> list[OutboxMessage]:
        query = (
            sa.select(outbox)
            .where(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now)
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        with self.store.read() as conn:
            return [_message(r) for r in conn.execute(query)]

    def log_attempt(
        self,
        message_id: int,
        at: int,
        attempt: int,
        ok: bool,
        status_code: int | None,
        error: str | None,
        duration_ms: float | None = None,
    ) -> None:
        row = {
            "outbox_id": message_id,
            "at": at,
            "attempt": attempt,
            "ok": ok,
            "status_code": status_code,
            "error": error,
            "duration_ms": duration_ms,
        }
        with self.store.write() as conn:
            conn.execute(deliveries.insert(), [row])

    def mark_delivered(self, message_id: int, attempts: int) -> None:
        self._set(message_id, status=DELIVERED, attempts=attempts, next_attempt_at=None, last_error=None)

    def schedule_retry(self, message_id: int, attempts: int, next_attempt_at: int, error: str) -> None:
        self._set(message_id, status=PENDING, attempts=attempts, next_attempt_at=next_attempt_at, last_error=error)

    def dead_letter(self, message_id: int, attempts: int, error: str) -> None:
        self._set(message_id, status=DEAD, attempts=attempts, next_attempt_at=None, last_error=error)

    def redeliver(self, now: int, ids: Sequence[int] | None = None, *, dead_only: bool = True) -> int:
        """Put messages back in the queue (dead letters by default); returns how many."""
        stmt = outbox.update().values(status=PENDING, next_attempt_at=now, attempts=0)
        if ids:
            stmt = stmt.where(outbox.c.id.in_(list(ids)))
        if dead_only:
            stmt = stmt.where(outbox.c.status == DEAD)
        with self.store.write() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    def messages(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = sa.select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        if status:
            query = query.where(outbox.c.status == status)
        with self.store.read() as conn:
            return [
                {
                    "id": r.id,
                    "key": r.idempotency_key,
                    "trigger": r.trigger_id,
                    "lead_id": r.lead_id,
                    "destination": r.destination,
                    "status": r.status,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                    "created_at": r.created_at,
                }
                for r in conn.execute(query)
            ]

    def log(self, limit: int = 50) -> list[dict[str, Any]]:
        query = (
            sa.select(deliveries, outbox.c.trigger_id, outbox.c.lead_id, outbox.c.destination)
            .join(outbox, outbox.c.id == deliveries.c.outbox_id)
            .order_by(deliveries.c.id.desc())
            .limit(limit)
        )
        with self.store.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def _set(self, message_id: int, **values: Any) -> None:
        with self.store.write() as conn:
            conn.execute(outbox.update().where(outbox.c.id == message_id).values(**values))
