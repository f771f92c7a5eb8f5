"""PostgreSQL connections the server dropped (a restart, an administrator) are replaced, not reported.

The pool checks a connection with a round trip only when it sat idle (`PING_IDLE_S`); a transaction
that meets a dropped connection anyway runs again on a new one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.store import backends, open_store
from tests.store.conftest import fresh_database_url

pytestmark = pytest.mark.integration


def _drop_connections(url: str) -> int:
    """Terminate every other session on the store's database, as a server restart would."""
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        sql = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()"
        )
        killed = conn.exec_driver_sql(sql, (name,)).scalar()
    admin.dispose()
    return int(killed or 0)


@pytest.mark.parametrize("idle_s", [0.0, 1e9], ids=["pinged", "retried"])
def test_a_dropped_connection_is_replaced(
    idle_s: float, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fresh_database_url("postgres", tmp_path, request, migrated=True)
    store = open_store(url)
    with store.read() as conn:  # a connection in the pool
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    assert _drop_connections(url) >= 1
    # pinged: every checkout checks its connection; retried: none does, the transaction runs again
    monkeypatch.setattr(backends, "PING_IDLE_S", idle_s)
    assert store.transact(lambda conn: conn.exec_driver_sql("SELECT 2").scalar()) == 2
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT 3").scalar() == 3
    store.dispose()


def test_the_pool_keeps_the_connections_a_burst_opened(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Connections returned after a burst of `POOL_SIZE` at once stay open for the next one: a new
    PostgreSQL connection costs the database 8 ms of CPU (SQLAlchemy's default pool kept 5 and closed
    the others as they came back, 24-48 of them during the API benchmark's bulk phase)."""
    url = fresh_database_url("postgres", tmp_path, request, migrated=True)
    store = open_store(url)
    opened = 0

    @sa.event.listens_for(store.engine, "connect")
    def _count(*_: object) -> None:
        nonlocal opened
        opened += 1

    for _burst in range(3):
        held = [store.engine.connect() for _ in range(backends.POOL_SIZE)]
        for conn in held:
            conn.close()
    assert opened == backends.POOL_SIZE
    store.dispose()
