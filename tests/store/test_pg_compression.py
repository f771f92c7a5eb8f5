"""PostgreSQL: the store's connections compress long values with LZ4 (`pg_compression`), and the outbox's
bulk enqueue stores each payload's text as given (staged as json, moved into the outbox as it is)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.store.backends import COPY_MIN_ROWS
from leadscore.store.outbox_repo import enqueue_encoded
from leadscore.triggers.firings import TriggerFiring
from tests.store.helpers import b2b_service

pytestmark = pytest.mark.integration

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def _lz4_offered(conn: sa.Connection) -> bool:
    found = conn.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    ).scalar()
    return bool(found)


def test_every_connection_of_the_pool_writes_with_lz4_where_the_server_has_it(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    service = b2b_service("postgres", tmp_path, "s", request, [NOW])
    engine = service.store.engine
    with engine.connect() as one, engine.connect() as two:  # two connections of the pool
        expected = "lz4" if _lz4_offered(one) else "pglz"
        for conn in (one, two):
            assert conn.exec_driver_sql("SHOW default_toast_compression").scalar() == expected
            conn.rollback()  # a transaction ended without a commit keeps the session's setting
            assert conn.exec_driver_sql("SHOW default_toast_compression").scalar() == expected


def test_long_payloads_enqueued_in_bulk_keep_their_text_exactly(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Payloads past the size at which PostgreSQL compresses a value, written as JSON text with odd spacing,
    a repeated key, escapes and non-ASCII letters: each stored text is the one given, and reads back as
    the same value; compressed with LZ4 where the server has it."""
    service = b2b_service("postgres", tmp_path, "s", request, [NOW])
    n = COPY_MIN_ROWS + 3
    texts = [
        f'{{ "n" : {i},"n": {i + 1}, "note": "caf\\u00e9 \\"q\\" \\\\ é\\n", "pad": "{"ab" * (1500 + i)}" }}'
        for i in range(n)
    ]
    fired = [
        TriggerFiring("t", f"L{i}", "crm", NOW, "stage_changed", "lead", "mql", json.loads(t), f"k-{i}")
        for i, t in enumerate(texts)
    ]
    with service.store.engine.begin() as conn:
        enqueue_encoded(conn, fired, texts, 9)
    with service.store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT idempotency_key, CAST(payload AS text), pg_column_compression(payload) FROM outbox ORDER BY id"
        ).all()
        lz4 = _lz4_offered(conn)
    assert [r[0] for r in rows] == [f"k-{i}" for i in range(n)]
    assert [r[1] for r in rows] == texts
    assert {r[2] for r in rows} == {"lz4" if lz4 else "pglz"}
