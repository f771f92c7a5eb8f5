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
    after it (the staging table empty, not holding the earlier batches' rows), and every row is stored."""
    service = b2b_service("postgres", tmp_path, "s", request, [NOW])
    n = COPY_MIN_ROWS + 10
    with service.store.engine.begin() as conn:
        for batch in range(3):
            fired = firings(batch, n)
            enqueue_encoded(conn, fired, [f'{{"n": {i}, "batch": {batch}}}' for i in range(n)], 9)
            assert conn.exec_driver_sql(f"SELECT count(*) FROM {STAGED}").scalar() == 0
    with service.store.engine.connect() as conn:
        stored = conn.execute(sa.select(outbox.c.idempotency_key, outbox.c.payload).order_by(outbox.c.id)).all()
    assert len(stored) == 3 * n
    assert stored[n + 5] == ("b1-5", {"n": 5, "batch": 1})
