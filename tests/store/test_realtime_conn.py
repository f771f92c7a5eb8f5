"""The group committer's own connection (`realtime_conn.HeldDriver`): the append on it writes what the
pooled path writes, waits for SQLite's write lock rather than failing, runs again on a new connection
when PostgreSQL dropped the held one (a restart), and goes back to the pool as it was lent."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.domain import Event
from leadscore.store import backends, open_store
from leadscore.store.queued_append import append_queued
from leadscore.store.realtime_conn import HeldDriver
from leadscore.store.tables import events, pending_rescore
from tests.store.conftest import BACKENDS, fresh_database_url
from tests.store.test_pg_connections import _drop_connections


def _now() -> int:
    return 1_780_000_000_000_000


def _event(event_id: str, lead: str = "a") -> Event:
    return Event.of(lead, "page_view", "2026-05-30", id=event_id, path="/pricing")


def _counts(store: object) -> tuple[int, int]:
    with store.read() as conn:  # type: ignore[attr-defined]
        stored = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar()
        queued = conn.execute(sa.select(sa.func.count()).select_from(pending_rescore)).scalar()
    return int(stored), int(queued)


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_held_append_stores_once_and_goes_back_to_the_pool_as_lent(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = open_store(fresh_database_url(kind, tmp_path, request, migrated=True))
    held = HeldDriver(store)
    try:
        new, touched = append_queued(store, [_event("e1"), _event("e2", "b")], _now, held)
        assert [r["event_key"] for r in new] == ["e1", "e2"] and touched == ["a", "b"]
        new, touched = append_queued(store, [_event("e1"), _event("e3")], _now, held)  # e1 stored: skipped
        assert [r["event_key"] for r in new] == ["e3"] and touched == ["a"]
        assert _counts(store) == (3, 2)
        assert store.engine.pool.checkedout() == 1  # held between appends
        raw = held.get()
    finally:
        held.close()
    assert store.engine.pool.checkedout() == 0
    if kind == "sqlite":  # lent with the pool's busy timeout, held without, given back with it
        assert raw.execute("PRAGMA busy_timeout").fetchone()[0] == int(backends.BUSY_TIMEOUT_S * 1000)
    else:
        assert raw.autocommit is False
    store.dispose()


def test_the_held_sqlite_append_waits_for_the_write_lock(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Another writer holds SQLite's write lock: the append (no busy timeout on its connection) looks
    for the lock until it is free, then commits."""
    url = fresh_database_url("sqlite", tmp_path, request, migrated=True)
    store = open_store(url)
    held = HeldDriver(store)
    other = sqlite3.connect(str(store.sqlite_file()), isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.2, lambda: other.execute("ROLLBACK")).start()
    try:
        started = time.monotonic()
        new, _ = append_queued(store, [_event("w1")], _now, held)
        assert len(new) == 1 and time.monotonic() - started >= 0.15
        assert _counts(store) == (1, 1)
    finally:
        held.close()
        other.close()
        store.dispose()


@pytest.mark.integration
def test_a_held_postgres_connection_the_server_dropped_is_replaced(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The server drops the held connection (as a restart does) within `PING_IDLE_S` of its last use, so
    nothing pings it: the append fails on it, runs again on a new connection, and stores its event once."""
    url = fresh_database_url("postgres", tmp_path, request, migrated=True)
    store = open_store(url)
    held = HeldDriver(store)
    try:
        append_queued(store, [_event("p1")], _now, held)
        first = held.get()
        assert _drop_connections(url) >= 1
        new, _ = append_queued(store, [_event("p2")], _now, held)
        assert [r["event_key"] for r in new] == ["p2"]
        assert held.get() is not first and first.closed
        assert _counts(store) == (2, 1)
    finally:
        held.close()
    assert store.engine.pool.checkedout() == 0
    store.dispose()


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_committer_gives_its_connection_back_when_idle_and_when_closed(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.app.committer import GroupCommitter
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace
    from tests.api.server import make_workspace

    url = None if kind == "sqlite" else fresh_database_url(kind, tmp_path, request, migrated=True)
    service = LeadService.from_workspace(Workspace.load(make_workspace(tmp_path / "ws", url)))
    monkeypatch.setattr(backends, "PING_IDLE_S", 0.1)
    committer = GroupCommitter(service, defer=True)
    pool = service.store.engine.pool
    try:
        assert committer.ingest([_event("c1")]).inserted == 1
        deadline = time.monotonic() + 10
        while pool.checkedout():  # idle for PING_IDLE_S: back to the pool
            assert time.monotonic() < deadline, "the committer kept its connection while idle"
            time.sleep(0.02)
        assert committer.ingest([_event("c2")]).inserted == 1
    finally:
        committer.close()
    assert pool.checkedout() == 0
    service.close()
