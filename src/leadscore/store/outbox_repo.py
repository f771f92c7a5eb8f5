"""The trigger outbox on the store's tables: written in the scoring transaction, drained by
`leadscore.webhooks.WebhookDispatcher` through the `OutboxRepository` protocol implemented here.

The firing's key is unique, so a transition that is detected again (a retried batch, a re-run
import, a refresh racing an ingest) inserts nothing the second time: each fires exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.domain.timeutil import from_micros, to_micros
from leadscore.store.base import LeadStore
from leadscore.store.results_repo import insert_many
from leadscore.store.tables import deliveries, outbox
from leadscore.triggers.firings import TriggerFiring
from leadscore.webhooks.outbox import DeliveryAttempt, OutboxMessage

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def enqueue(store: LeadStore, conn: Connection, firings: Sequence[TriggerFiring], now: int) -> None:
    """Outbox rows for the firings that name a destination (others have nowhere to go), a row whose
    key is stored skipped. On the driver in one executemany (`results_repo.insert_many`), the payload
    as the JSON text SQLAlchemy's JSON type writes: through SQLAlchemy's insert, its per-row parameter
    processing cost about as much as the payloads' JSON (a model apply's history pass, profiled)."""
    insert_many(conn, outbox, outbox_rows(firings, now), " ON CONFLICT DO NOTHING", ENQUEUED)


def enqueue_encoded(conn: Connection, firings: Sequence[TriggerFiring], payloads: Sequence[str], now: int) -> None:
    """`enqueue` with each firing's payload given as its JSON text (`payloads`, as `json_text` writes
    the payload: the text `enqueue` stores). SQLite: one executemany of the driver. PostgreSQL: from
    `COPY_MIN_ROWS` rows a COPY into a temporary table and one INSERT ... SELECT (`_copy_encoded`),
    fewer the driver's executemany, the payload cast to json (stored as the text given)."""
    from leadscore.store.backends import COPY_MIN_ROWS
    from leadscore.store.results_repo import driver_insert

    if conn.dialect.paramstyle == "qmark":  # SQLite's driver: the JSON column takes the text as it is
        _sqlite_encoded(conn, firings, payloads, now)
        return
    sql, _, _ = driver_insert(outbox, " ON CONFLICT DO NOTHING", ENQUEUED)
    rows = _encoded_rows(firings, payloads, (PENDING, 0, now, now, None))
    if not rows:
        return
    if len(rows) >= COPY_MIN_ROWS:
        _copy_encoded(conn, rows)
    else:
        conn.exec_driver_sql(sql, rows)


STAGED = "_ls_outbox_in"  # PostgreSQL: `_copy_encoded`'s rows, truncated after each use, emptied at commit


def _copy_encoded(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """PostgreSQL: the outbox rows (`ENQUEUED`'s columns, the payload as JSON text) through COPY into
    a temporary table, then inserted in their order with the conflict clause `enqueue`'s has. The
    history pass of a lifecycle apply enqueued its firings' payloads as dicts, re-encoded into one
    JSON array that the server parsed whole before parsing each payload again (`json_to_recordset`);
    the texts here are made once (`payload_texts`) and parsed once, by the COPY into the staging
    table's json column; the INSERT moves each value as it is. Staged as text and cast to json by the
    INSERT, each payload was parsed there and compressed twice, once a table (1.0 + 2.1 server CPU s
    for 71,000 payloads of a lifecycle apply at 100,000 leads x 50 events).

    First the rows are COPYed straight into the outbox (`backends.copy_all_new`), which stores them all
    unless a key is stored already: then that COPY is undone and they are staged as above."""
    from leadscore.store.backends import copy_all_new

    if copy_all_new(conn, "outbox", ENQUEUED, rows):  # no key stored already (the usual case): no staging
        return
    raw: Any = conn.connection.driver_connection
    cols = ", ".join(ENQUEUED)
    with raw.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGED} (ord integer, idempotency_key text, trigger_id text, "
            "lead_id text, destination text, payload json, status text, attempts integer, next_attempt_at bigint, "
            "created_at bigint, last_error text) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY {STAGED} (ord, {cols}) FROM STDIN") as copy:
            for i, row in enumerate(rows):
                copy.write_row((i, *row))
        cur.execute(f"INSERT INTO outbox ({cols}) SELECT {cols} FROM {STAGED} ORDER BY ord ON CONFLICT DO NOTHING")
        # TRUNCATE, not DELETE: a model apply stages its batches in one transaction, where deleted rows
        # stay in the table (dead, not vacuumed before the commit) and every later DELETE and INSERT ...
        # SELECT read all of them again: quadratic in the batches (a table of 140 MB at 70,000 payloads)
        cur.execute(f"TRUNCATE {STAGED}")


# the columns of `outbox_rows` (the others start NULL)
ENQUEUED = [
    "idempotency_key",
    "trigger_id",
    "lead_id",
    "destination",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "last_error",
]

# `ENQUEUED`'s columns a firing's row takes from the firing (and its payload's text); the others are
# the same for every row of an `enqueue_encoded` (`_sqlite_encoded`)
_OWN = ENQUEUED[:5]


def _sqlite_encoded(conn: Connection, firings: Sequence[TriggerFiring], payloads: Sequence[str], now: int) -> None:
    """SQLite: `enqueue_encoded`'s rows in one executemany of the driver, the values all its rows share
    (pending, no attempt, due and made `now`, no error) written in the statement as literals, bound
    once per statement, not once per row: the same stored values (an integer literal is stored as the
    bound integer, the status text as the bound text), half the parameters bound and the tuples made
    half as long (a lifecycle apply's history pass, 71,400 rows at 100,000 leads: -10 % of the insert)."""
    rows = _encoded_rows(firings, payloads, ())
    if not rows:
        return
    values = f"{', '.join('?' * len(_OWN))}, '{PENDING}', 0, {int(now)}, {int(now)}, NULL"
    conn.exec_driver_sql(f"INSERT INTO outbox ({', '.join(ENQUEUED)}) VALUES ({values}) ON CONFLICT DO NOTHING", rows)


def _encoded_rows(
    firings: Sequence[TriggerFiring], payloads: Sequence[str], shared: tuple[Any, ...]
) -> list[tuple[Any, ...]]:
    """The rows of the firings that name a destination: `_OWN`'s values, then `shared`."""
    return [
        (f.key, f.trigger_id, f.lead_id, f.destination, text, *shared)
        for f, text in zip(firings, payloads, strict=True)
        if f.destination is not None
    ]


def outbox_rows(firings: Sequence[TriggerFiring], now: int) -> list[dict[str, Any]]:
    """The rows `enqueue` inserts (skipping those whose key is stored), with the columns `ENQUEUED`."""
    return [
        {
            "idempotency_key": f.key,
            "trigger_id": f.trigger_id,
            "lead_id": f.lead_id,
            "destination": f.destination,
            "payload": f.payload,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "last_error": None,
        }
        for f in firings
        if f.destination is not None
    ]


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.idempotency_key,
        destination=row.destination or "",
        payload=row.payload,
        created_at=from_micros(row.created_at),
        next_attempt_at=from_micros(row.next_attempt_at) if row.next_attempt_at is not None else from_micros(0),
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        trigger_id=row.trigger_id,
        lead_id=row.lead_id,
    )


class SqlOutboxRepository:
    """`leadscore.webhooks.OutboxRepository` on the outbox and deliveries tables."""

    def __init__(self, store: LeadStore) -> None:
        self.store = store

    def fetch_due(self, now: datetime, limit: int) -> list[OutboxMessage]:
        query = (
            sa.select(outbox)
            .where(outbox.c.status == PENDING, outbox.c.next_attempt_at <= to_micros(now))
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        with self.store.read() as conn:
            return [_message(r) for r in conn.execute(query)]

    def claim_due(self, now: datetime, limit: int, owner: str, lease_until: datetime) -> list[OutboxMessage]:
        """Claim due messages no other run holds: pick them, then mark them, in one transaction.

        PostgreSQL: the rows are picked `FOR UPDATE SKIP LOCKED`, so a concurrent claimer skips the
        rows being claimed instead of waiting for them, and holds them until the claim commits; a
        row claimed and committed meanwhile fails the claim condition, checked again on the locked
        row. SQLite: the write transaction holds the database's single write lock (BEGIN IMMEDIATE),
        so no two claims interleave. (One `UPDATE ... WHERE id IN (SELECT ... LIMIT n FOR UPDATE
        SKIP LOCKED)` is not enough: PostgreSQL may run the subquery again per row and claim more
        than `n`.)
        """
        at = to_micros(now)
        free = sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= at)
        due = sa.and_(outbox.c.status == PENDING, outbox.c.next_attempt_at <= at, free)
        pick = (
            sa.select(outbox.c.id)
            .where(due)
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(max(0, limit))
            .with_for_update(skip_locked=True)
        )

        def claim(conn: Connection) -> list[Any]:
            ids = list(conn.execute(pick).scalars())
            if not ids:
                return []
            mark = (
                outbox.update()
                .where(outbox.c.id.in_(ids))
                .values(claimed_by=owner, claimed_until=to_micros(lease_until))
            )
            conn.execute(mark)
            return list(conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids))))

        rows = self.store.transact(claim)
        return [_message(r) for r in sorted(rows, key=lambda r: (r.next_attempt_at, r.id))]

    def record_attempt(self, attempt: DeliveryAttempt) -> None:
        with self.store.write() as conn:
            outbox_id = conn.execute(
                sa.select(outbox.c.id).where(outbox.c.idempotency_key == attempt.message_id)
            ).scalar_one()
            conn.execute(
                deliveries.insert(),
                [
                    {
                        "outbox_id": outbox_id,
                        "at": to_micros(attempt.at),
                        "attempt": attempt.number,
                        "ok": attempt.outcome == "delivered",
                        "status_code": attempt.status_code,
                        "error": attempt.error,
                        "duration_ms": attempt.duration_ms,
                    }
                ],
            )
            conn.execute(
                outbox.update()
                .where(outbox.c.id == outbox_id)
                .values(attempts=attempt.number, last_error=attempt.error)
            )

    def mark_delivered(self, message_id: str, at: datetime) -> None:
        self._set(message_id, status=DELIVERED, next_attempt_at=None, last_error=None)

    # A run whose lease ran out may report a failure after another run delivered the message:
    # a delivered message stays delivered (it would otherwise be sent again).
    def schedule_retry(self, message_id: str, at: datetime, error: str | None) -> None:
        self._set(message_id, status=PENDING, next_attempt_at=to_micros(at), last_error=error, _undelivered=True)

    def dead_letter(self, message_id: str, at: datetime, reason: str) -> None:
        self._set(message_id, status=DEAD, next_attempt_at=None, last_error=reason, _undelivered=True)

    def requeue_dead(self, now: datetime, *, ids: Sequence[str] | None = None, destination: str | None = None) -> int:
        stmt = outbox.update().where(outbox.c.status == DEAD)
        if ids:
            stmt = stmt.where(outbox.c.idempotency_key.in_(list(ids)))
        if destination:
            stmt = stmt.where(outbox.c.destination == destination)
        with self.store.write() as conn:
            fresh = {"status": PENDING, "next_attempt_at": to_micros(now), "attempts": 0, "claimed_until": None}
            return int(conn.execute(stmt.values(claimed_by=None, **fresh)).rowcount)

    def messages(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = sa.select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        if status:
            query = query.where(outbox.c.status == status)
        with self.store.read() as conn:
            return [
                {
                    "id": r.idempotency_key,
                    "trigger": r.trigger_id,
                    "lead_id": r.lead_id,
                    "destination": r.destination,
                    "status": r.status,
                    "attempts": r.attempts,
                    "last_error": r.last_error,
                }
                for r in conn.execute(query)
            ]

    def find(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The messages with these ids (those that exist), as `messages` gives them."""
        query = sa.select(outbox).where(outbox.c.idempotency_key.in_(list(ids)))
        with self.store.read() as conn:
            return [{"id": r.idempotency_key, "status": r.status} for r in conn.execute(query)]

    def log(self, limit: int = 50) -> list[dict[str, Any]]:
        """The delivery log, newest first."""
        query = (
            sa.select(deliveries, outbox.c.idempotency_key, outbox.c.trigger_id, outbox.c.lead_id, outbox.c.destination)
            .join(outbox, outbox.c.id == deliveries.c.outbox_id)
            .order_by(deliveries.c.id.desc())
            .limit(limit)
        )
        with self.store.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def _set(self, message_id: str, _undelivered: bool = False, **values: Any) -> None:
        """Record an outcome; it also releases the claim of the run that made the attempt."""
        values.update(claimed_by=None, claimed_until=None)
        stmt = outbox.update().where(outbox.c.idempotency_key == message_id)
        if _undelivered:
            stmt = stmt.where(outbox.c.status != DELIVERED)
        with self.store.write() as conn:
            conn.execute(stmt.values(**values))
