"""The statements of one real-time event, merged or skipped, do what the ones they replace did:
leads created and locked by one upsert (`leads_repo.ensure_locked`), the rescoring queue cleared only
for the leads it held, a lead's result read back without a transaction of its own on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event
from leadscore.store import LeadStore, open_store, queries
from leadscore.store.leads_repo import ensure_locked
from leadscore.store.tables import events, leads, pending_rescore
from tests.store.conftest import BACKENDS, fresh_database_url
from tests.store.helpers import b2b_service, mismatches, random_events
from tests.store.test_pending import NOW

_LOCK_A = "SELECT id FROM leads WHERE id = 'a' FOR UPDATE NOWAIT"


@pytest.fixture(params=BACKENDS)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LeadService]:
    found = b2b_service(request.param, tmp_path, "s", request, [NOW])
    yield found
    found.close()


def test_ensure_locked_creates_the_missing_leads_and_leaves_the_stored_ones(store: LeadStore) -> None:
    store.transact(lambda conn: ensure_locked(store, conn, ["a"], 5))
    with store.write() as conn:
        conn.execute(leads.update().where(leads.c.id == "a").values(attributes={"x": 1}, updated_at=7))
    store.transact(lambda conn: ensure_locked(store, conn, ["b", "a", "b"], 9, also=["a"]))
    with store.read() as conn:
        rows = conn.execute(sa.select(leads.c.id, leads.c.attributes, leads.c.created_at, leads.c.updated_at))
        found = sorted(tuple(r) for r in rows)
    assert found == [("a", {"x": 1}, 5, 7), ("b", {}, 9, 9)]


@pytest.mark.integration
def test_ensure_locked_holds_stored_leads(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """As `lock_leads` does: another transaction cannot lock the lead until this one ends."""
    from psycopg.errors import LockNotAvailable

    store = open_store(fresh_database_url("postgres", tmp_path, request, migrated=True))
    other = sa.create_engine(store.engine.url)
    try:
        assert store.upsert_locks
        store.transact(lambda conn: ensure_locked(store, conn, ["a"], 5))
        with store.write() as conn:
            ensure_locked(store, conn, ["a", "c"], 6)  # "a" stored: the upsert's conflict branch locks it
            with other.connect() as second, pytest.raises(sa.exc.OperationalError) as caught:
                second.exec_driver_sql(_LOCK_A).all()
            assert isinstance(caught.value.orig, LockNotAvailable)
        with other.connect() as second:  # released at commit
            assert second.exec_driver_sql(_LOCK_A).all()
    finally:
        other.dispose()
        store.dispose()


def test_rescoring_at_once_unqueues_the_queued_leads_only(service: LeadService) -> None:
    pricing = [Event.of(lead, "page_view", NOW - timedelta(days=2), path="/pricing") for lead in ("a", "b")]
    service.ingest_events(pricing, defer=True)
    service.ingest_events([Event.of(lead, "page_view", NOW - timedelta(days=1)) for lead in ("a", "c")])
    with service.store.read() as conn:
        assert list(conn.execute(sa.select(pending_rescore.c.lead_id)).scalars()) == ["b"]
    assert service.lead("a").current and service.lead("c").current and not service.lead("b").current
    service.ingest_events([Event.of("b", "demo_request", NOW - timedelta(hours=1))])  # one queued lead alone
    assert service.backlog().leads == 0
    assert mismatches(service.store, service.model) == []


def test_a_result_read_back_leaves_the_connection_transactional(service: LeadService) -> None:
    """On PostgreSQL the read runs without a transaction; the pooled connection must not stay so."""
    service.ingest_events([Event.of("a", "page_view", NOW - timedelta(days=1), path="/pricing")])
    found = service.result("a")
    assert found is not None and found.lead_id == "a"
    with service.store.read() as conn:  # the same read inside a transaction gives the same result
        conn.execute(sa.select(1)).all()
        assert queries.result(conn, "a") == found
    with pytest.raises(RuntimeError), service.store.write() as conn:  # the next writer can still roll back
        conn.execute(leads.insert().values(id="z", attributes={}, account=None, created_at=1, updated_at=1))
        raise RuntimeError
    with service.store.read() as conn:
        assert conn.execute(sa.select(leads.c.id).where(leads.c.id == "z")).first() is None


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_few_events_at_a_time_are_stored_as_one_large_batch_stores_them(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The few-rows INSERT (a real-time event) against the large batch's path (COPY on PostgreSQL):
    the same rows in the same log order, duplicates (by id and by content) skipped by both."""
    arrivals = random_events(7, 5, 600)
    changed = [Event(e.lead_id, e.type, e.timestamp, {"path": "/other"}, e.id) for e in arrivals[40:60]]
    arrivals += arrivals[:40] + changed
    few, large = (b2b_service(kind, tmp_path, name, request, [NOW]) for name in ("few", "large"))
    try:
        for start in range(0, len(arrivals), 3):
            few.ingest_events(arrivals[start : start + 3], defer=True)
        large.ingest_events(arrivals, defer=True)
        logs = []
        for service in (few, large):
            with service.store.read() as conn:
                cols = [c for c in events.columns if c.name not in ("seq", "ingested_at")]
                logs.append([tuple(r) for r in conn.execute(sa.select(*cols).order_by(events.c.seq))])
        assert len(logs[0]) > 550 and logs[0] == logs[1]
    finally:
        few.close()
        large.close()
