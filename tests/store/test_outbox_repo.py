"""The outbox's bulk enqueue on PostgreSQL (`outbox_repo.enqueue_encoded` through COPY)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.store.backends import COPY_MIN_ROWS
from leadscore.store.outbox_repo import STAGED, enqueue_encoded
from leadscore.store.tables import outbox
from leadscore.triggers.firings import TriggerFiring
from tests.store.helpers import b2b_service

pytestmark = pytest.mark.integration


NOW = datetime(2026, 7, 1, tzinfo=UTC)


def firings(batch: int, n: int) -> list[TriggerFiring]:
    payloads = [{"n": i, "batch": batch} for i in range(n)]
    return [
        TriggerFiring("t", f"L{i}", "crm", NOW, "stage_changed", "lead", "mql", p, f"b{batch}-{i}")
        for i, p in enumerate(payloads)
    ]


def test_batches_of_one_transaction_each_stage_their_own_rows(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A model apply enqueues many COPY batches in one transaction: each batch's staged rows are gone
    after it (the staging table empty, not holding the earlier batches' rows), and every row is stored.
    Each batch after the first repeats a key stored before, so it is staged (not COPYed straight)."""
    service = b2b_service("postgres", tmp_path, "s", request, [NOW])
    n = COPY_MIN_ROWS + 10
    with service.store.engine.begin() as conn:
        for batch in range(3):
            fired = firings(batch, n)
            if batch:
                fired.append(firings(batch - 1, 1)[0])  # stored by the batch before: skipped
            texts = [f'{{"n": {i}, "batch": {batch}}}' for i in range(n)] + (['{"again": 1}'] if batch else [])
            enqueue_encoded(conn, fired, texts, 9)
            if batch:
                assert conn.exec_driver_sql(f"SELECT count(*) FROM {STAGED}").scalar() == 0
    with service.store.engine.connect() as conn:
        stored = conn.execute(sa.select(outbox.c.idempotency_key, outbox.c.payload).order_by(outbox.c.id)).all()
    assert len(stored) == 3 * n
    assert stored[n + 5] == ("b1-5", {"n": 5, "batch": 1})
    assert {"again": 1} not in [payload for _, payload in stored]


def test_a_batch_with_no_stored_key_goes_straight_into_the_outbox(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """No key of the batch stored: its rows are COPYed into the outbox in their order, no staging table
    made; a key twice in a batch: the batch is staged and the first of the two kept, as the conflict
    clause keeps it."""
    service = b2b_service("postgres", tmp_path, "s", request, [NOW])
    n = COPY_MIN_ROWS + 2
    with service.store.engine.begin() as conn:
        enqueue_encoded(conn, firings(0, n), [f'{{"n": {i}}}' for i in range(n)], 9)
        made = conn.exec_driver_sql(f"SELECT to_regclass('pg_temp.{STAGED}') IS NOT NULL").scalar()
        twice = firings(1, n)
        twice[3] = TriggerFiring("t", "L3", "crm", NOW, "stage_changed", "lead", "mql", {}, "b1-1")
        enqueue_encoded(conn, twice, [f'{{"m": {i}}}' for i in range(n)], 9)
    assert not made
    with service.store.engine.connect() as conn:
        stored = conn.execute(sa.select(outbox.c.idempotency_key, outbox.c.payload).order_by(outbox.c.id)).all()
    assert [k for k, _ in stored] == [f"b0-{i}" for i in range(n)] + [f"b1-{i}" for i in range(n) if i != 3]
    assert stored[n + 1] == ("b1-1", {"m": 1})
