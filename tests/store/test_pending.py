"""Deferred rescoring (leadscore.store.pending): events stored with their leads queued, rescored by a
drain. The drained store holds exactly what rescoring in the acknowledging transaction writes:
results, score and stage history, trigger messages, row by row; a queued lead says it is not current.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event
from leadscore.io import read_events, read_leads
from leadscore.store import open_store
from leadscore.store.tables import pending_rescore, results
from tests.store.conftest import BACKENDS, fresh_database_url
from tests.store.helpers import mismatches, written_rows

B2B = Path(__file__).resolve().parents[2] / "examples" / "b2b-saas"
NOW = datetime(2026, 7, 1, tzinfo=UTC)


def _service(
    kind: str, tmp_path: Path, name: str, request: pytest.FixtureRequest, clock: list[datetime]
) -> LeadService:
    folder = tmp_path / name
    folder.mkdir()
    store = open_store(fresh_database_url(kind, folder, request, migrated=True))
    service = LeadService(store, model_path=B2B / "model.yaml", clock=lambda: clock[0])
    service.upgrade()
    return service


def _arrivals(seed: int) -> list[list[Event]]:
    events = list(read_events(B2B / "data" / "events.csv"))
    random.Random(seed).shuffle(events)  # late events too: a lead's log is not in time order on arrival
    cuts = sorted(random.Random(seed + 1).sample(range(1, len(events)), 6))
    return [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("seed", [1, 2])
def test_a_drain_writes_what_rescoring_at_once_writes(
    kind: str, seed: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    clock = [NOW]
    at_once = _service(kind, tmp_path, "at-once", request, clock)
    deferred = _service(kind, tmp_path, "deferred", request, clock)
    try:
        leads = list(read_leads(B2B / "data" / "leads.csv"))
        at_once.ingest_leads(leads)
        deferred.ingest_leads(leads)
        for i, batch in enumerate(_arrivals(seed)):
            clock[0] = NOW + timedelta(hours=i)
            at_once.ingest_events(batch)
            queued = deferred.ingest_events(batch, defer=True)
            assert queued.rescored == 0 and queued.pending == len({e.lead_id for e in batch})
            assert deferred.backlog().leads == queued.pending
            drained = deferred.drain_pending(limit=7)  # a few leads per transaction: several drains
            while drained.taken:
                drained = deferred.drain_pending(limit=7)
            assert deferred.backlog().leads == 0
        expected, found = written_rows(at_once.store), written_rows(deferred.store)
        assert [r["trigger_id"] for r in expected["outbox"]]  # the data fires triggers: the comparison says something
        for table in expected:
            assert found[table] == expected[table], table
        assert mismatches(deferred.store, deferred.model) == []
    finally:
        at_once.close()
        deferred.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_queued_lead_is_not_current_until_drained(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    clock = [NOW]
    service = _service(kind, tmp_path, "s", request, clock)
    try:
        service.ingest_events([Event.of("a", "page_view", NOW - timedelta(days=1), path="/pricing")])
        first = service.lead("a")
        assert first.current and not first.pending and first.result is not None
        done = service.ingest_events([Event.of("a", "demo_request", NOW - timedelta(hours=1))], defer=True)
        assert done.inserted == 1 and done.pending == 1
        waiting = service.lead("a")
        assert waiting.pending and not waiting.current
        assert waiting.result is not None and waiting.result.score == first.result.score  # not rescored yet
        assert service.backlog().leads == 1 and service.backlog().oldest_us is not None
        assert service.drain_pending().taken == 1
        after = service.lead("a")
        assert after.current and not after.pending
        assert after.result is not None and after.result.score > first.result.score
        assert service.drain_pending().taken == 0
        # rescoring at once (the CLI's ingest) also makes a queued lead current
        service.ingest_events([Event.of("a", "page_view", NOW - timedelta(minutes=5))], defer=True)
        service.ingest_events([Event.of("a", "page_view", NOW - timedelta(minutes=4))])
        assert service.lead("a").current and service.backlog().leads == 0
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_queued_leads_left_by_a_closed_process_are_drained_by_the_next(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    clock = [NOW]
    first = _service(kind, tmp_path, "s", request, clock)
    url = first.store.url
    events = [Event.of(f"L{i}", "demo_request", NOW - timedelta(hours=i)) for i in range(30)]
    first.ingest_events(events, defer=True)
    first.close()  # as if killed: nothing drained

    from leadscore.app.rescorer import RescoreWorker

    second = LeadService(open_store(url), model_path=B2B / "model.yaml", clock=lambda: clock[0])
    worker = RescoreWorker(second, poll_s=0.05).start()  # drains at start, without being notified
    try:
        for _ in range(400):
            if second.backlog().leads == 0:
                break
            worker._closed.wait(0.05)
        assert second.backlog().leads == 0
        worker.close()
        assert all(second.lead(f"L{i}").current for i in range(30))
        assert mismatches(second.store, second.model) == []
    finally:
        worker.close()
        second.close()


def test_erase_removes_the_queue_entry(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    clock = [NOW]
    service = _service("sqlite", tmp_path, "s", request, clock)
    try:
        service.ingest_events([Event.of("gone", "page_view", NOW)], defer=True)
        service.erase("gone")
        with service.store.read() as conn:
            assert conn.execute(sa.select(pending_rescore)).all() == []
        assert service.drain_pending().taken == 0
    finally:
        service.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_an_event_stored_while_the_drain_scores_is_not_lost(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drain scores without the leads' locks: an event that lands meanwhile makes it score that
    lead again under the lock, so the written result includes it and the lead leaves the queue."""
    clock = [NOW]
    service = _service(kind, tmp_path, "s", request, clock)
    try:
        service.ingest_events([Event.of("a", "page_view", NOW - timedelta(hours=2), path="/pricing")], defer=True)
        service.ingest_events([Event.of("b", "page_view", NOW - timedelta(hours=2))], defer=True)
        evaluator = service.current_evaluator()
        real = evaluator.prepare
        landed: list[int] = []

        def prepare_then_append(*args: Any, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            if not landed:  # another writer stores an event for `a` while the drain scores
                landed.append(service.ingest_events([Event.of("a", "demo_request", NOW)], defer=True).inserted)
            return out

        monkeypatch.setattr(evaluator, "prepare", prepare_then_append)
        drained = service.drain_pending()
        assert landed == [1] and drained.taken == 2 and drained.rescored.leads == 2
        assert service.backlog().leads == 0
        lead = service.lead("a")
        assert lead.current and lead.result is not None
        assert any(b.rule == "demo-request" for b in lead.result.breakdown)
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_model_applied_while_the_drain_scores_is_the_one_written(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drain scored with the old model: it writes nothing, and the next drain scores with the new one."""
    clock = [NOW]
    service = _service(kind, tmp_path, "s", request, clock)
    try:
        service.ingest_leads(list(read_leads(B2B / "data" / "leads.csv")))
        service.ingest_events(list(read_events(B2B / "data" / "events.csv")), defer=True)
        changed = tmp_path / "changed.yaml"
        changed.write_text((B2B / "model.yaml").read_text().replace("points: 80}", "points: 90}"), encoding="utf-8")
        evaluator = service.current_evaluator()
        real = evaluator.prepare
        applied: list[str] = []

        def prepare_then_apply(*args: Any, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            if not applied:
                applied.append(service.apply_model(changed).version)
            return out

        monkeypatch.setattr(evaluator, "prepare", prepare_then_apply)
        while service.drain_pending(limit=10).taken:
            pass
        assert applied and service.backlog().leads == 0
        with service.store.read() as conn:
            versions = set(conn.execute(sa.select(results.c.model_version)).scalars())
        assert versions == {applied[0]}
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_model_applied_by_another_process_is_the_one_the_drain_writes(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The intake and the drain do not read the active model before they start (it costs a transaction
    per acknowledgement); the drain finds the change in its write transaction and scores again with the
    new model, in the same call."""
    clock = [NOW]
    service = _service(kind, tmp_path, "s", request, clock)
    other = LeadService(open_store(service.store.url), model_path=B2B / "model.yaml", clock=lambda: clock[0])
    try:
        service.ingest_leads(list(read_leads(B2B / "data" / "leads.csv")))
        old = service.current_evaluator().version
        changed = tmp_path / "changed.yaml"
        changed.write_text((B2B / "model.yaml").read_text().replace("points: 80}", "points: 90}"), encoding="utf-8")
        applied = other.apply_model(changed).version
        assert applied != old and service.evaluator.version == old  # `service` has not seen it yet
        done = service.ingest_events(list(read_events(B2B / "data" / "events.csv")), defer=True)
        assert done.pending > 0
        drained = service.drain_pending(limit=10_000)
        assert drained.taken == done.pending and not drained.model_changed
        assert drained.rescored.leads == done.pending and service.backlog().leads == 0
        assert service.evaluator.version == applied
        with service.store.read() as conn:
            versions = set(conn.execute(sa.select(results.c.model_version)).scalars())
        assert versions == {applied}
        assert mismatches(service.store, service.model) == []
    finally:
        other.close()
        service.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_events_scored_at_once_after_another_process_applied_a_model_are_scored_by_it(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The ingest that scores checks the active model inside its transaction (not in a read of its own
    before): finding another, it loads it and runs the batch again, in the same call."""
    clock = [NOW]
    service = _service(kind, tmp_path, "s", request, clock)
    other = LeadService(open_store(service.store.url), model_path=B2B / "model.yaml", clock=lambda: clock[0])
    try:
        service.ingest_leads(list(read_leads(B2B / "data" / "leads.csv")))
        old = service.current_evaluator().version
        changed = tmp_path / "changed.yaml"
        changed.write_text((B2B / "model.yaml").read_text().replace("points: 80}", "points: 90}"), encoding="utf-8")
        applied = other.apply_model(changed).version
        assert applied != old and service.evaluator.version == old
        done = service.ingest_events(list(read_events(B2B / "data" / "events.csv")))
        assert done.inserted > 0 and done.rescored > 0 and done.pending == 0
        assert service.evaluator.version == applied
        with service.store.read() as conn:
            versions = set(conn.execute(sa.select(results.c.model_version)).scalars())
        assert versions == {applied}
        assert mismatches(service.store, service.model) == []
    finally:
        other.close()
        service.close()


def test_the_writers_turn_on_sqlite_is_one_at_a_time(tmp_path: Path) -> None:
    """The intake's commit and the drain wait for each other on a file lock (woken at once), not in
    SQLite's busy handler (which sleeps): while one holds the turn, nobody else gets it."""
    import fcntl
    import os
    import threading

    from leadscore.store.pending import writer_turn

    store = open_store(f"sqlite:///{tmp_path / 'turn.db'}")
    try:
        other = os.open(str(tmp_path / "turn.db-writer"), os.O_RDWR | os.O_CREAT)  # as another process opens it
        got: list[bool] = []
        with writer_turn(store):
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            waiter = threading.Thread(target=lambda: got.append(_take_turn(store)))
            waiter.start()
            waiter.join(0.2)
            assert waiter.is_alive() and not got  # a second thread of this process waits too
        waiter.join(10)
        assert got == [True]
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released: free at once
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    finally:
        store.dispose()


def _take_turn(store: Any) -> bool:
    from leadscore.store.pending import writer_turn

    with writer_turn(store):
        return True


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_fresh_lead_is_drained_before_a_backlog_queued_ahead_of_it(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A quarter of each drain goes to the most recently queued leads: an event behind a bulk import's
    backlog is scored in the next drain, and the backlog still drains oldest first."""
    clock = [NOW]
    service = _service(kind, tmp_path, "s", request, clock)
    try:
        service.ingest_events([Event.of(f"bulk-{i:03d}", "page_view", "2026-06-01") for i in range(30)], defer=True)
        clock[0] = NOW + timedelta(seconds=1)
        service.ingest_events([Event.of("fresh", "page_view", "2026-06-01")], defer=True)
        first = service.drain_pending(limit=8)
        assert first.taken == 8
        with service.store.read() as conn:
            left = set(conn.execute(sa.select(pending_rescore.c.lead_id)).scalars())
        assert "fresh" not in left  # drained at once, with the six longest-waiting and the next-newest
        assert {f"bulk-{i:03d}" for i in range(6)}.isdisjoint(left) and len(left) == 23
        while service.drain_pending(limit=8).taken:
            pass
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()
