"""A few real-time events on PostgreSQL through the driver's pipelined statements (leadscore.store.realtime_pg)
write what the SQLAlchemy statements of `ingest.ingest_events` write: every table, row by row, for events
one to three at a time, duplicates, late events, several leads at once, events under an alias, leads an
earlier deferred intake queued, and triggers that fire; and every result equals the pure scorer's."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event
from leadscore.domain.timeutil import to_micros
from leadscore.io import read_leads
from leadscore.model import parse_model
from leadscore.store import LeadStore, ingest, open_store, realtime_pg
from leadscore.store.pipeline import Evaluator
from leadscore.store.queued_append import append_queued
from leadscore.store.tables import aliases, events, leads, pending_rescore, result_basis
from tests.store.conftest import MODEL
from tests.store.helpers import B2B, b2b_service, mismatches, random_events, written_rows
from tests.store.test_pending import NOW

pytestmark = pytest.mark.integration


def _arrivals(seed: int) -> list[tuple[list[Event], bool]]:
    """Small batches (and whether each is a deferred intake's), with repeats and changed content."""
    rnd = random.Random(seed)
    pool = [
        Event(f"b-{int(e.lead_id[1:]) % 12 + 1:03d}", e.type, e.timestamp + timedelta(days=30), e.properties, e.id)
        for e in random_events(seed, 12, 160)
    ]
    pool += [Event.of("visitor-1", "page_view", NOW - timedelta(hours=3), path="/pricing")]
    out: list[tuple[list[Event], bool]] = [
        ([Event.of("b-001", "identify", NOW - timedelta(days=2), anonymous_id="visitor-1")], False)
    ]
    i = 0
    while i < len(pool):
        size = rnd.choice([1, 1, 1, 2, 3])
        out.append((pool[i : i + size], rnd.random() < 0.1))
        if rnd.random() < 0.1:  # sent again
            out.append((pool[i : i + size], False))
        i += size
    out.append(([Event.of("visitor-1", "demo_request", NOW - timedelta(hours=1))], False))  # to the alias's lead
    return out


def _tables(service: LeadService) -> dict[str, Any]:
    found: dict[str, Any] = dict(written_rows(service.store))
    with service.store.read() as conn:
        for table, order in (
            (events, events.c.seq),
            (leads, leads.c.id),
            (aliases, aliases.c.alias),
            (result_basis, result_basis.c.lead_id),
            (pending_rescore, pending_rescore.c.lead_id),
        ):
            cols = [c for c in table.columns if c.name != "seq"]
            found[table.name] = [tuple(r) for r in conn.execute(sa.select(*cols).order_by(order))]
    return found


@pytest.mark.parametrize("seed", [1, 2])
def test_the_pipelined_path_writes_what_the_general_path_writes(
    seed: int, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [NOW]
    fast = b2b_service("postgres", tmp_path, "fast", request, clock)
    general = b2b_service("postgres", tmp_path, "general", request, clock)
    taken: list[int] = []
    original = realtime_pg.ingest_few

    def counted(*args: Any) -> Any:
        taken.append(1)
        return original(*args)

    try:
        people = list(read_leads(B2B / "data" / "leads.csv"))[:8]
        for service in (fast, general):
            service.ingest_leads(people)
        for n, (batch, deferred) in enumerate(_arrivals(seed)):
            clock[0] = NOW + timedelta(minutes=n)
            with monkeypatch.context() as patch:
                patch.setattr(ingest, "ingest_few", counted)
                fast.ingest_events(batch, defer=deferred)
            with monkeypatch.context() as patch:
                patch.setattr(ingest, "plain_batch", lambda _batch: False)
                general.ingest_events(batch, defer=deferred)
        assert len(taken) > 80  # the pipelined path did run
        assert _tables(fast) == _tables(general)
        fast.drain_pending()
        assert mismatches(fast.store, fast.model) == []
        assert written_rows(fast.store)["outbox"]  # triggers fired on the way
    finally:
        fast.close()
        general.close()


def test_a_duplicate_alone_writes_nothing(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    service = b2b_service("postgres", tmp_path, "dup", request, [NOW])
    try:
        event = Event.of("a", "page_view", NOW - timedelta(days=1), id="e1", path="/pricing")
        first = service.ingest_events([event])
        before = _tables(service)
        again = service.ingest_events([event])
        assert (first.inserted, first.rescored, again.inserted, again.rescored) == (1, 1, 0, 0)
        assert _tables(service) == before
    finally:
        service.close()


def _deadlocks(store: LeadStore) -> int:
    with store.read() as conn:
        sql = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        return int(conn.exec_driver_sql(sql).scalar_one())


@pytest.mark.parametrize("path", ["scored", "queued"])
def test_a_deadlock_on_the_driver_statements_is_retried(
    path: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A real deadlock: another transaction holds lead b, the events of a and b lock a then wait for b,
    and the other then asks for a. The server aborts the events' transaction (the other waits longer
    before it looks for deadlocks), which runs again once the other commits: nothing lost, nothing twice."""
    service = b2b_service("postgres", tmp_path, path, request, [NOW])
    url = service.store.engine.url.render_as_string(hide_password=False)
    pair = [Event.of(lead, "page_view", NOW - timedelta(hours=1), path="/pricing") for lead in ("a", "b")]
    service.ingest_events([Event.of(lead, "page_view", NOW - timedelta(days=1)) for lead in ("a", "b")])
    other = sa.create_engine(url)
    before = _deadlocks(service.store)
    outcome: list[Any] = []
    try:
        with other.connect() as conn:
            conn.exec_driver_sql("SET deadlock_timeout = '30s'")
            conn.exec_driver_sql("SELECT id FROM leads WHERE id = 'b' FOR UPDATE").all()
            if path == "scored":
                worker = threading.Thread(target=lambda: outcome.append(service.ingest_events(pair)))
            else:
                worker = threading.Thread(target=lambda: outcome.append(append_queued(service.store, pair, _now)))
            worker.start()
            waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()"
            deadline = time.monotonic() + 20
            while conn.exec_driver_sql(waiting).scalar_one() == 0:
                assert time.monotonic() < deadline, "the events never waited for lead b"
                time.sleep(0.02)
            conn.exec_driver_sql("SELECT id FROM leads WHERE id = 'a' FOR UPDATE").all()  # the deadlock
            conn.commit()
        worker.join(30)
        assert outcome, "the events' transaction failed instead of running again"
        assert _deadlocks(service.store) == before + 1
        with service.store.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(events)).scalar() == 4
        if path == "scored":
            assert outcome[0].inserted == 2 and outcome[0].rescored == 2
            assert mismatches(service.store, service.model) == []
        else:
            assert [r["lead_id"] for r in outcome[0][0]] == ["a", "b"] and outcome[0][1] == ["a", "b"]
    finally:
        other.dispose()
        service.close()


def _now() -> int:
    return to_micros(NOW)


def test_driver_errors_are_retryable_as_sqlalchemy_ones(tmp_path: Path) -> None:
    """`store.retryable` knows the driver's own exceptions (raised outside SQLAlchemy) as it knows its."""
    import psycopg

    sqlite_store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    assert sqlite_store.retryable(sqlite3.OperationalError("database is locked"))
    assert not sqlite_store.retryable(sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert not sqlite_store.retryable(ValueError("locked"))
    sqlite_store.dispose()
    pg_store = open_store("postgresql+psycopg://nobody@127.0.0.1:1/none")  # no connection is made
    assert pg_store.retryable(psycopg.errors.DeadlockDetected("deadlock detected"))
    assert pg_store.retryable(psycopg.errors.SerializationFailure("could not serialize"))
    assert pg_store.retryable(psycopg.errors.LockNotAvailable("lock timeout"))
    assert not pg_store.retryable(psycopg.errors.UniqueViolation("duplicate key"))
    pg_store.dispose()


def test_a_refused_transaction_writes_nothing_and_leaves_the_connection_as_it_was(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Scored by another model than the store's active one (ModelChanged, raised before writing): the
    event is not stored, and the pooled connection is back in SQLAlchemy's mode (not autocommit)."""
    service = b2b_service("postgres", tmp_path, "refused", request, [NOW])
    try:
        service.ingest_events([Event.of("a", "page_view", NOW - timedelta(days=1))])
        before = _tables(service)
        other = Evaluator(parse_model(MODEL))
        event = Event.of("a", "page_view", NOW - timedelta(hours=1), path="/pricing")
        with pytest.raises(ingest.ModelChanged):
            ingest.ingest_events(service.store, other, [event], _now, check_model=True)
        assert _tables(service) == before
        with service.store.engine.connect() as conn:
            assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]
        assert service.ingest_events([event]).inserted == 1
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()


@pytest.mark.parametrize(
    "text",
    [b'{"path": "/pricing", "n": 3, "x": 2.5, "ok": true, "none": null}', b"null", b'[1, "\\u00e9", {}]', b' {"a": 1}'],
)
def test_the_json_loader_reads_what_json_loads_reads(text: bytes) -> None:
    loader = realtime_pg._json_loader()(0)
    assert loader.load(memoryview(text)) == json.loads(text)
    assert loader.load(text) == json.loads(text)
