"""The rescoring worker stops by itself when its store is gone, instead of retrying for the rest of
its process's life (leadscore.store.pending.store_gone)."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.rescorer import BACKLOG_MIN, RescoreWorker
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.domain import Event
from tests.api.server import make_workspace
from tests.store.conftest import BACKENDS, fresh_database_url, postgres_template  # noqa: F401 (a fixture)


def _stops(worker: RescoreWorker, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while worker.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    return not worker.alive


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_worker_drains_then_stops_when_its_store_is_gone(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    url = None if backend == "sqlite" else fresh_database_url("postgres", tmp_path, request, migrated=True)
    root = make_workspace(tmp_path / "ws", url)
    service = LeadService.from_workspace(Workspace.load(root))
    worker = RescoreWorker(service, poll_s=0.05).start()
    try:
        service.ingest_events([Event.of("a", "page_view", "2026-05-30")], defer=True)
        worker.notify()
        deadline = time.monotonic() + 20
        while service.backlog().leads and time.monotonic() < deadline:
            time.sleep(0.05)
        assert service.backlog().leads == 0 and worker.alive  # it drains as usual
        with caplog.at_level(logging.WARNING, logger="leadscore.app.rescorer"):
            if backend == "sqlite":
                shutil.rmtree(root)
            else:
                admin = sa.create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.exec_driver_sql(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)")
                admin.dispose()
            assert _stops(worker)
        assert "the store is gone" in caplog.text
        assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    finally:
        worker.close()
        service.close()


def test_a_failing_store_is_retried_with_one_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """A store that fails but exists (down, being migrated) keeps the worker retrying, its traceback
    logged once and then a line per failure, further and further apart."""

    class Failing:
        store = None
        calls = 0

        def drain_pending(self, limit: int = 0, *, which: str = "all") -> object:
            self.calls += 1
            raise RuntimeError("the server is restarting")

    class NoStore:
        def sqlite_file(self) -> None:
            return None

    failing = Failing()
    failing.store = NoStore()  # type: ignore[assignment]
    worker = RescoreWorker(failing, poll_s=0.01)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="leadscore.app.rescorer"):
        worker.start()
        time.sleep(2.5)  # waits of 1 s, then 2 s: three drains
        assert worker.alive
        worker.close()
    assert 2 <= failing.calls <= 3
    assert sum(1 for r in caplog.records if r.exc_info) == 1
    assert "failed again (2 times)" in caplog.text


def test_under_steady_commits_drains_start_a_gather_apart_not_a_drain_plus_a_gather() -> None:
    """The gathering counts from the previous drain's take when commits came meanwhile: a drain as long
    as the gather is followed at once by the next (it gathered already), not by a second wait."""
    from leadscore.store.pending import Drained
    from leadscore.store.pipeline import Rescored

    class Slow:
        store = None
        starts: list[float] = []

        def drain_pending(self, limit: int = 0, *, which: str = "all") -> Drained:
            self.starts.append(time.monotonic())
            time.sleep(0.3)
            return Drained(1, Rescored())

    class NoStore:
        def sqlite_file(self) -> None:
            return None

    slow = Slow()
    slow.store = NoStore()  # type: ignore[assignment]
    worker = RescoreWorker(slow, poll_s=5.0, gather_s=0.3).start()  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:  # a commit every 10 ms
            worker.notify()
            time.sleep(0.01)
    finally:
        worker.close()
    gaps = sorted(b - a for a, b in zip(slow.starts[1:], slow.starts[2:], strict=False))
    assert len(gaps) >= 4
    assert gaps[len(gaps) // 2] < 0.45  # 0.3 apart (the drain's length); 0.6 when the gather came after it


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_steady_stream_of_single_events_does_not_starve_the_backlog(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Real-time leads are drained first, but every round drains some of the backlog too: a bulk
    request's leads are all rescored while single events keep coming, and everything drained is what
    the pure scorer says."""
    from leadscore.store.pending import REALTIME_LEADS
    from leadscore.store.tables import pending_rescore
    from tests.store.helpers import mismatches

    url = None if backend == "sqlite" else fresh_database_url("postgres", tmp_path, request, migrated=True)
    root = make_workspace(tmp_path / "ws", url)
    service = LeadService.from_workspace(Workspace.load(root))
    bulk = [f"bulk-{i:04d}" for i in range(3 * REALTIME_LEADS)]
    service.ingest_events([Event.of(lead, "page_view", "2026-05-30") for lead in bulk], defer=True)
    worker = RescoreWorker(service, poll_s=0.05, limit=40, gather_s=0.01, backlog_s=0.01).start()
    try:
        deadline, sent = time.monotonic() + 60, 0
        while time.monotonic() < deadline:
            service.ingest_events([Event.of(f"single-{sent % 50}", "page_view", "2026-05-30")], defer=True)
            worker.notify()
            sent += 1
            with service.store.read() as conn:
                left = conn.execute(sa.select(sa.func.count()).where(pending_rescore.c.lead_id.in_(bulk))).scalar()
            if not left:
                break
            time.sleep(0.005)
        assert not left and sent > 5  # drained while the single events kept coming
        deadline = time.monotonic() + 20
        while service.backlog().leads and time.monotonic() < deadline:
            time.sleep(0.02)
        assert service.backlog().leads == 0
        assert mismatches(service.store, service.model) == []
    finally:
        worker.close()
        service.close()


def test_backlog_drains_are_sized_to_their_time() -> None:
    """A backlog drain that took twice its time halves the next; a fast one lets it grow, at most
    twofold a drain and up to the worker's limit; a short drain (the queue ran out) changes nothing."""
    worker = RescoreWorker(None, limit=200, backlog_s=0.1)  # type: ignore[arg-type]
    worker._fit(200, 200, 0.2)
    assert worker.backlog_limit == 100
    worker._fit(100, 100, 0.01)
    assert worker.backlog_limit == 200
    worker._fit(200, 200, 10.0)
    assert worker.backlog_limit == BACKLOG_MIN  # a drain's fixed cost stays a small share
    worker._fit(BACKLOG_MIN, BACKLOG_MIN, 0.001)
    assert worker.backlog_limit == 2 * BACKLOG_MIN
    worker._fit(2 * BACKLOG_MIN, 3, 5.0)
    assert worker.backlog_limit == 2 * BACKLOG_MIN


def test_each_drain_that_took_leads_is_signalled_and_an_empty_one_is_not() -> None:
    """`on_drained` (the server's waits for current results, leadscore.app.lead_waits) is called after
    each drain that rescored leads, the real-time one before the backlog drain, and never for nothing."""
    from leadscore.store.pending import Drained
    from leadscore.store.pipeline import Rescored

    class Queue:
        store = None
        takes = [Drained(2, Rescored(), more=True), Drained(3, Rescored()), Drained(0, Rescored())]

        def drain_pending(self, limit: int = 0, *, which: str = "all") -> Drained:
            signalled.append(f"drain {which}")
            return self.takes.pop(0) if self.takes else Drained(0, Rescored())

    class NoStore:
        def sqlite_file(self) -> None:
            return None

    signalled: list[str] = []
    queue = Queue()
    queue.store = NoStore()  # type: ignore[assignment]
    worker = RescoreWorker(queue, poll_s=5.0, on_drained=lambda: signalled.append("signal"))  # type: ignore[arg-type]
    worker._drain()  # one round: the real-time drain, then the backlog drain it said was waiting
    worker._drain()  # an empty queue
    assert signalled == ["drain realtime", "signal", "drain backlog", "signal", "drain realtime"]


def test_a_real_time_drain_that_took_every_real_time_lead_says_when_it_took_them() -> None:
    """`on_caught_up` (the back-pressure by age, leadscore.app.score_lag) gets the time read before a
    real-time drain that was not full, and nothing after a full one (real-time leads were left)."""
    import time

    from leadscore.store.pending import Drained
    from leadscore.store.pipeline import Rescored

    class Queue:
        store = None
        takes = [Drained(2, Rescored()), Drained(7, Rescored()), Drained(0, Rescored())]

        def drain_pending(self, limit: int = 0, *, which: str = "all") -> Drained:
            before.append(time.monotonic())
            return self.takes.pop(0)

    class NoStore:
        def sqlite_file(self) -> None:
            return None

    before: list[float] = []
    caught: list[float] = []
    queue = Queue()
    queue.store = NoStore()  # type: ignore[assignment]
    worker = RescoreWorker(queue, poll_s=5.0, limit=7, on_caught_up=caught.append)  # type: ignore[arg-type]
    worker._drain()  # 2 of at most 7: caught up
    assert len(caught) == 1 and caught[0] <= before[0]
    worker._drain()  # a full drain (7), then an empty one: caught up at the second only
    assert len(caught) == 2 and before[1] <= caught[1] <= before[2]


def test_the_backlog_waits_while_bulk_requests_come_and_no_longer_than_its_bound() -> None:
    """While a bulk request is in progress, or ended less than `bulk_quiet_s` ago, the backlog drain
    waits (the real-time drain does not), at most `bulk_defer_max_s` in a row; then it drains."""
    from leadscore.store.pending import Drained
    from leadscore.store.pipeline import Rescored

    class Queue:
        store = None

        def drain_pending(self, limit: int = 0, *, which: str = "all") -> Drained:
            drains.append(which)
            return Drained(1, Rescored(), more=which == "realtime")

    class NoStore:
        def sqlite_file(self) -> None:
            return None

    drains: list[str] = []
    queue = Queue()
    queue.store = NoStore()  # type: ignore[assignment]
    worker = RescoreWorker(queue, poll_s=5.0, bulk_quiet_s=0.2, bulk_defer_max_s=0.6)  # type: ignore[arg-type]
    worker._drain()  # no bulk request yet: both drains
    assert drains == ["realtime", "backlog"]
    drains.clear()
    worker.bulk_started()
    worker._drain()  # one in progress: the real-time drain alone, the backlog due within the bound
    assert drains == ["realtime"] and worker._backlog_due is not None
    assert worker._backlog_due - time.monotonic() <= 0.6
    time.sleep(0.3)
    worker.bulk_ended()
    drains.clear()
    worker._drain()  # ended just now: still waiting for the next request
    assert drains == ["realtime"]
    time.sleep(0.25)
    drains.clear()
    worker._drain()  # quiet for longer than bulk_quiet_s: drained
    assert drains == ["realtime", "backlog"]
    worker.bulk_started()  # a stream that never pauses: one backlog drain per bound
    drains.clear()
    worker._drain()
    assert drains == ["realtime"]
    time.sleep(0.65)
    drains.clear()
    worker._drain()
    assert drains == ["realtime", "backlog"]
    drains.clear()
    worker._drain()  # and the next wait counts from that drain
    assert drains == ["realtime"]
    worker.bulk_ended()


def test_a_waiting_backlog_is_drained_when_the_bulk_requests_stop_without_another_wake() -> None:
    """The idle worker wakes by itself when the backlog's wait is over, not at its next poll."""
    from leadscore.store.pending import Drained
    from leadscore.store.pipeline import Rescored

    class Queue:
        store = None
        left = 3

        def drain_pending(self, limit: int = 0, *, which: str = "all") -> Drained:
            if which == "backlog":
                self.left = 0
                return Drained(3, Rescored())
            return Drained(0, Rescored(), more=self.left > 0)

    class NoStore:
        def sqlite_file(self) -> None:
            return None

    queue = Queue()
    queue.store = NoStore()  # type: ignore[assignment]
    worker = RescoreWorker(queue, poll_s=30.0, bulk_quiet_s=0.2)  # type: ignore[arg-type]
    worker.bulk_started()
    worker.start()
    try:
        time.sleep(0.2)
        assert queue.left == 3  # waiting for the request
        worker.bulk_ended()
        deadline = time.monotonic() + 3.0
        while queue.left and time.monotonic() < deadline:
            time.sleep(0.02)
        assert queue.left == 0  # within the quiet time and a gather, not the 30 s poll
    finally:
        worker.close()
