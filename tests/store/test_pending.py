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
from leadscore.store.pending import _LOCK_FREE_PG, _lock_free
from leadscore.store.tables import pending_rescore, results
from leadscore.store.timeline_cache import for_store
from tests.store.conftest import BACKENDS, fresh_database_url
from tests.store.helpers import B2B, b2b_service, mismatches, written_rows

NOW = datetime(2026, 7, 1, tzinfo=UTC)


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
    at_once = b2b_service(kind, tmp_path, "at-once", request, clock)
    deferred = b2b_service(kind, tmp_path, "deferred", request, clock)
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
    service = b2b_service(kind, tmp_path, "s", request, clock)
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
    first = b2b_service(kind, tmp_path, "s", request, clock)
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
    service = b2b_service("sqlite", tmp_path, "s", request, clock)
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
    service = b2b_service(kind, tmp_path, "s", request, [NOW])
    try:
        landed = _append_while_scoring(service, "prepare", monkeypatch)
        drained = service.drain_pending()
        assert landed == [1] and drained.taken == 2 and drained.rescored.leads == 2
        _assert_scored_with_the_landed_event(service)
    finally:
        service.close()


def _append_while_scoring(service: LeadService, method: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Leads `a` and `b` queued; the evaluator's `method` stores an event for `a` (another writer) right
    after its first call returns, as if it landed while the drain scored. The list gets its count."""
    service.ingest_events([Event.of("a", "page_view", NOW - timedelta(hours=2), path="/pricing")], defer=True)
    service.ingest_events([Event.of("b", "page_view", NOW - timedelta(hours=2))], defer=True)
    evaluator = service.current_evaluator()
    real = getattr(evaluator, method)
    landed: list[int] = []

    def then_append(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if not landed:
            landed.append(service.ingest_events([Event.of("a", "demo_request", NOW)], defer=True).inserted)
        return out

    monkeypatch.setattr(evaluator, method, then_append)
    return landed


def _assert_scored_with_the_landed_event(service: LeadService) -> None:
    assert service.backlog().leads == 0
    lead = service.lead("a")
    assert lead.current and lead.result is not None
    assert any(b.rule == "demo-request" for b in lead.result.breakdown)
    assert mismatches(service.store, service.model) == []


@pytest.mark.parametrize(("which", "method"), [("all", "prepare"), ("backlog", "score_loaded")])
def test_a_stage_moved_while_the_drain_scores_is_in_the_result_it_writes(
    which: str, method: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's drain takes its time, then reads and scores outside the write lock; a stage move
    recorded meanwhile (its event and its result at a later time) makes the lead stale, and the drain
    scores it again under the lock at a time read then: at the drain's first time the move was still in
    the future, and the drain wrote an older result without it over the move's (seen once through the
    API: a move answered `lead`). (PostgreSQL's drain holds the lead's queue row from its read to its
    commit: a move then waits for it, and reads the drain's result before it writes its own.)"""
    clock = [NOW]
    service = b2b_service("sqlite", tmp_path, "s", request, clock)
    try:
        service.ingest_events([Event.of("a", "page_view", NOW - timedelta(hours=2), path="/pricing")], defer=True)
        evaluator = service.current_evaluator()
        real = getattr(evaluator, method)
        moved: list[str | None] = []

        def then_move(*args: Any, **kwargs: Any) -> Any:
            out = real(*args, **kwargs)
            if clock[0] == NOW:  # the drain's first scoring (the move scores with the evaluator too)
                clock[0] = NOW + timedelta(minutes=1)
                moved.append(service.set_stage("a", "sql").stage)
            return out

        monkeypatch.setattr(evaluator, method, then_move)
        drained = service.drain_pending(which=which)  # type: ignore[arg-type]
        assert moved == ["sql"] and drained.taken == 1
        lead = service.lead("a")
        assert lead.current and lead.result is not None
        assert lead.result.stage == "sql" and lead.result.at == "2026-07-01T00:01:00Z"  # the move's time
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_model_applied_while_the_drain_scores_is_the_one_written(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drain scored with the old model: it writes nothing, and the next drain scores with the new one."""
    clock = [NOW]
    service = b2b_service(kind, tmp_path, "s", request, clock)
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
    service = b2b_service(kind, tmp_path, "s", request, clock)
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
    service = b2b_service(kind, tmp_path, "s", request, clock)
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


def _queued(service: LeadService) -> set[str]:
    with service.store.read() as conn:
        return set(conn.execute(sa.select(pending_rescore.c.lead_id)).scalars())


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_real_time_lead_is_drained_before_a_backlog_queued_before_and_after_it(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leads queued by small recent commits (single events) are taken first, even when a bulk commit
    queued after them (oldest first would put them behind it); the backlog drains oldest first, and
    the results are the pure scorer's."""
    from leadscore.store import pending

    monkeypatch.setattr(pending, "REALTIME_LEADS", 10)  # a bulk commit here: 30 leads
    clock = [NOW]
    service = b2b_service(kind, tmp_path, "s", request, clock)
    try:
        service.ingest_events([Event.of(f"bulk-{i:03d}", "page_view", "2026-06-01") for i in range(30)], defer=True)
        clock[0] = NOW + timedelta(seconds=1)
        service.ingest_events([Event.of("fresh", "page_view", "2026-06-01")], defer=True)
        clock[0] = NOW + timedelta(seconds=1, milliseconds=100)
        late = [Event.of(f"late-{i:03d}", "page_view", "2026-06-01") for i in range(20)]
        service.ingest_events(late, defer=True)
        realtime = service.drain_pending(limit=8, which="realtime")
        assert realtime.taken == 1 and realtime.more  # the bulk leads wait beside it
        assert "fresh" not in _queued(service) and len(_queued(service)) == 50
        backlog = service.drain_pending(limit=8, which="backlog")
        assert backlog.taken == 8 and backlog.more
        assert {f"bulk-{i:03d}" for i in range(8)}.isdisjoint(_queued(service))  # the longest-waiting
        assert service.drain_pending(limit=8, which="realtime").taken == 0  # none left
        clock[0] = NOW + timedelta(seconds=1, milliseconds=200)
        service.ingest_events([Event.of("fresh-2", "page_view", "2026-06-02")], defer=True)
        first = service.drain_pending(limit=8)  # "all": the real-time lead, then the longest-waiting
        assert first.taken == 8 and "fresh-2" not in _queued(service)
        assert {f"bulk-{i:03d}" for i in range(15)}.isdisjoint(_queued(service))
        while service.drain_pending(limit=8).taken:
            pass
        assert not _queued(service)
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()


def test_the_writer_whose_turn_it_is_takes_the_lock_as_it_comes_free(tmp_path: Path) -> None:
    """A writer of the turn looks for SQLite's write lock every millisecond (not in the busy handler's
    growing sleeps, where a bulk request's writer took it first each time), and never creates a
    database that was removed."""
    import sqlite3
    import threading
    import time

    from leadscore.store.pending import _await_write_lock

    path = str(tmp_path / "look.db")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # another writer (a bulk request) holds the lock for 0.3 s
    released: list[float] = []

    def release() -> None:
        time.sleep(0.3)
        holder.execute("ROLLBACK")
        released.append(time.monotonic())

    threading.Thread(target=release).start()
    _await_write_lock(path)
    back = time.monotonic()
    assert released and back - released[0] < 0.05  # within a few looks, not a 100 ms sleep later
    mine = sqlite3.connect(path, isolation_level=None, timeout=0)
    mine.execute("BEGIN IMMEDIATE")  # free indeed
    mine.execute("ROLLBACK")
    mine.close()
    holder.close()
    gone = str(tmp_path / "gone.db")
    _await_write_lock(gone)
    assert not Path(gone).exists()


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_real_time_lead_waiting_longer_than_the_horizon_is_the_backlogs(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A lead queued by a small commit more than REALTIME_S ago is drained oldest first with the
    others; a drain of real-time leads that finds none says whether others wait."""
    from leadscore.store.pending import REALTIME_S

    clock = [NOW]
    service = b2b_service(kind, tmp_path, "s", request, clock)
    try:
        assert service.drain_pending(which="realtime") == service.drain_pending(which="realtime")  # empty
        assert not service.drain_pending(which="realtime").more
        for i, lead in enumerate(("first", "second")):  # two commits of one lead: both real-time
            clock[0] = NOW + timedelta(milliseconds=i)
            service.ingest_events([Event.of(lead, "page_view", "2026-06-01")], defer=True)
        one = service.drain_pending(limit=1, which="realtime")
        assert one.taken == 1 and not one.more  # only real-time leads wait: no backlog drain for them
        assert service.drain_pending(limit=1, which="realtime").taken == 1
        service.ingest_events([Event.of("early", "page_view", "2026-06-01")], defer=True)
        clock[0] = NOW + timedelta(seconds=REALTIME_S + 1)
        nothing = service.drain_pending(which="realtime")
        assert nothing.taken == 0 and nothing.more
        assert service.drain_pending(which="backlog").taken == 1
        assert not _queued(service)
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()


@pytest.mark.integration
def test_a_lead_another_transaction_holds_is_left_queued_not_waited_for(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """PostgreSQL: the worker's drain does not wait for a lead a bulk request holds (its transaction's
    row lock): it rescores the others and leaves that one queued; another caller's drain ("all", a file
    ingest's last rounds) waits for it, as before; a later drain rescores it with what the request
    added, as the pure scorer does."""
    import threading

    clock = [NOW]
    service = b2b_service("postgres", tmp_path, "s", request, clock)
    try:
        service.ingest_events([Event.of(lead, "page_view", "2026-06-01") for lead in ("held", "free")], defer=True)
        other = service.store.engine.connect()
        tx = other.begin()
        other.exec_driver_sql("SELECT id FROM leads WHERE id = 'held' FOR UPDATE")  # as a bulk request does
        drained: list[Any] = []
        drainer = threading.Thread(target=lambda: drained.append(service.drain_pending(which="backlog")))
        drainer.start()
        drainer.join(20)
        assert drained, "the drain waited for the other transaction"
        assert drained[0].taken == 1 and drained[0].busy == 1
        assert _queued(service) == {"held"}
        waiting = threading.Thread(target=lambda: drained.append(service.drain_pending()))  # "all": waits
        waiting.start()
        waiting.join(1)
        assert waiting.is_alive() and len(drained) == 1
        tx.rollback()
        other.close()
        waiting.join(20)
        assert len(drained) == 2 and drained[1].taken == 1 and not _queued(service)
        service.ingest_events([Event.of("held", "demo_request", "2026-06-02")], defer=True)
        again = service.drain_pending(which="backlog")
        assert again.taken == 1 and again.busy == 0 and not _queued(service)
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_lead_written_while_the_workers_drain_scores_is_scored_again_from_its_copy(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's drain scores a lead again under the lock when an event landed meanwhile, reading
    only that event besides the copy of the timeline it had just read: the result includes the event,
    equals the pure scorer's, and the lead leaves the queue."""
    service = b2b_service(kind, tmp_path, "s", request, [NOW])
    try:
        landed = _append_while_scoring(service, "score_loaded", monkeypatch)
        cache = for_store(service.store)
        drained = service.drain_pending(which="backlog")
        assert landed == [1] and drained.taken == 2 and drained.rescored.leads == 2
        assert (cache.misses, cache.hits) == (2, 1)  # `a` read whole once, then from its copy
        _assert_scored_with_the_landed_event(service)
    finally:
        service.close()


@pytest.mark.integration
def test_the_drains_lock_looks_each_lead_up_under_the_generic_plan(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The worker's drain locks its leads (`_lock_free`) by a statement the driver prepares after five
    runs, which the server then runs on its generic plan: there the array of ids is a parameter, and
    `id = ANY(...)` compared every lead with each id in turn (200 ids among 2,000 leads: 10.8 ms a
    drain). Joined from the array, each id is a look-up; the leads another transaction holds are
    still skipped, the others locked."""
    store = open_store(fresh_database_url("postgres", tmp_path, request, migrated=True))
    other = open_store(store.engine.url.render_as_string(hide_password=False))
    ids = [f"L{n:04d}" for n in range(0, 2000, 10)]
    try:
        with store.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO leads (id, attributes, created_at, updated_at) "
                "SELECT 'L' || lpad(CAST(n AS text), 4, '0'), CAST('{}' AS jsonb), 0, 0 "
                "FROM generate_series(0, 1999) AS n"
            )
        with other.write() as held:
            held.exec_driver_sql("SELECT id FROM leads WHERE id = 'L0010' FOR UPDATE")
            with store.write() as conn:
                conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
                conn.exec_driver_sql("PREPARE lock_free(text[]) AS " + _LOCK_FREE_PG.replace("%s", "$1"))
                explain = "EXPLAIN EXECUTE lock_free('{" + ",".join(ids) + "}')"  # the ids need no quoting
                plan = "\n".join(r[0] for r in conn.exec_driver_sql(explain))
                assert "ANY" not in plan, plan
                conn.exec_driver_sql("DEALLOCATE lock_free")
                assert _lock_free(store, conn, ids) == set(ids) - {"L0010"}
    finally:
        other.dispose()
        store.dispose()
