"""Group commit: concurrent requests share transactions, each gets its own share of the outcome, and a
failing request fails alone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadscore.app.committer import GroupCommitter
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.domain import Event
from tests.api.server import make_workspace
from tests.store.helpers import mismatches

AT = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LeadService]:
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    found = LeadService.from_workspace(Workspace.load(make_workspace(tmp_path / "ws")), clock=lambda: AT)
    yield found
    found.close()


def test_concurrent_requests_each_get_their_own_inserted_count(service: LeadService) -> None:
    committer = GroupCommitter(service)
    results: dict[int, int] = {}

    def send(i: int) -> None:
        evs = [Event.of(f"L{i % 3}", "page_view", "2026-05-30", id=f"e-{i}-{k}") for k in range(3)]
        evs.append(Event.of("L0", "page_view", "2026-05-30", id="shared"))  # the same event in every request
        results[i] = committer.ingest(evs).inserted

    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    committer.close()
    assert sum(results.values()) == 20 * 3 + 1  # "shared" counted once, by whichever request stored it
    assert sorted(results.values())[-1] <= 4 and min(results.values()) >= 3
    assert mismatches(service.store, service.model) == []


def test_a_failing_request_fails_alone(service: LeadService, monkeypatch: pytest.MonkeyPatch) -> None:
    real = service.ingest_events
    gate = threading.Event()

    def failing(
        events: list[Event], at: datetime | None = None, *, defer: bool = False, new_keys: bool = False
    ) -> object:
        gate.wait(10)  # hold the first commit so the next three requests queue up as one group
        if any(e.id == "bad" for e in events):
            raise RuntimeError("the database refused the batch")
        return real(events, at, defer=defer, new_keys=new_keys)

    monkeypatch.setattr(service, "ingest_events", failing)
    committer = GroupCommitter(service)
    first = committer.submit([Event.of("z", "page_view", "2026-05-30", id="first")])
    good = [Event.of("a", "page_view", "2026-05-30", id=f"g-{i}") for i in range(3)]
    bad = [Event.of("b", "page_view", "2026-05-30", id="bad")]
    futures = [committer.submit(good[:1]), committer.submit(bad), committer.submit(good[1:])]
    gate.set()
    assert first.result(60).inserted == 1
    outcomes: list[object] = []
    for future in futures:
        try:
            outcomes.append(future.result(60).inserted)
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    committer.close()
    assert outcomes[0] == 1 and outcomes[2] == 2 and isinstance(outcomes[1], str)
    assert service.result("b") is None


@pytest.mark.parametrize("defer", [False, True])
def test_a_group_shares_out_what_its_transaction_inserted(
    service: LeadService, monkeypatch: pytest.MonkeyPatch, defer: bool
) -> None:
    """Events stored before the group, and events sent twice within it, count for no request (or for
    the first that sent them); the transaction itself says what it inserted."""
    service.ingest_events([Event.of("a", "page_view", "2026-05-30", id="old")])
    real = GroupCommitter._store  # the service's path, or (deferred) the committer's own append
    gate, entered = threading.Event(), threading.Event()
    calls: list[int] = []

    def held(self: GroupCommitter, events: list[Event], shared: bool) -> object:
        entered.set()
        gate.wait(10)  # hold the first commit so the next requests queue up as one group
        calls.append(len(events))
        return real(self, events, shared)

    monkeypatch.setattr(GroupCommitter, "_store", held)
    committer = GroupCommitter(service, defer=defer)
    first = committer.submit([Event.of("z", "page_view", "2026-05-30", id="first")])
    # the group is sent once the first commit is held: sent earlier, the committer could take part of
    # it with the first request and the rest in a second group ([3, 4])
    assert entered.wait(10)
    group = [
        [Event.of("a", "page_view", "2026-05-30", id="old"), Event.of("a", "page_view", "2026-05-30", id="n1")],
        [Event.of("a", "page_view", "2026-05-30", id="n1"), Event.of("b", "page_view", "2026-05-30", id="n2")],
        [Event.of("b", "page_view", "2026-05-30", id="old")],  # ids are per lead: new under `b`
        [Event.of("a", "page_view", "2026-05-30", id="first")],  # `first` was stored under `z`: new here
    ]
    futures = [committer.submit(evs) for evs in group]
    gate.set()
    assert first.result(60).inserted == 1
    assert [f.result(60).inserted for f in futures] == [1, 1, 1, 1]
    committer.close()
    assert calls in ([1, 6], [7])  # the four requests were one transaction (with the first, or after it)
    if defer:
        while service.drain_pending().taken:
            pass
    assert mismatches(service.store, service.model) == []


def test_the_acknowledgement_does_not_wait_for_the_rescoring_worker_to_wake(service: LeadService) -> None:
    """`on_commit` (waking the rescoring process) runs after the requests of the commit are answered."""
    woken, resume = threading.Event(), threading.Event()

    def slow_wake() -> None:
        woken.set()
        resume.wait(60)

    committer = GroupCommitter(service, defer=True, on_commit=slow_wake)
    done = committer.submit([Event.of("w", "page_view", "2026-05-30", id="w1")])
    try:
        assert done.result(60).pending == 1  # answered while the wake-up is still in progress
        assert woken.wait(60)
    finally:
        resume.set()
        committer.close()


def test_requests_that_arrive_during_a_pause_join_the_next_commit(
    service: LeadService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pace` (the back-pressure by age, leadscore.app.score_lag) is asked after each commit, and the
    committer waits that long before taking the next: what arrived meanwhile is one commit."""
    real = GroupCommitter._store
    calls: list[int] = []

    def counted(self: GroupCommitter, events: list[Event], shared: bool) -> object:
        calls.append(len(events))
        return real(self, events, shared)

    paused, resume = threading.Event(), threading.Event()
    asked: list[int] = []

    def pace() -> float:
        asked.append(len(calls))
        if len(asked) == 1:  # held until the next requests are queued (the test's stand-in for a sleep)
            paused.set()
            resume.wait(60)
        return 0.001

    monkeypatch.setattr(GroupCommitter, "_store", counted)
    committer = GroupCommitter(service, defer=True, pace=pace)
    try:
        assert committer.submit([Event.of("p", "page_view", "2026-05-30", id="p0")]).result(60).inserted == 1
        assert paused.wait(60)
        later = [committer.submit([Event.of("p", "page_view", "2026-05-30", id=f"p{i}")]) for i in range(1, 4)]
        resume.set()
        assert [f.result(60).inserted for f in later] == [1, 1, 1]
    finally:
        resume.set()
        committer.close()
    assert calls == [1, 3] and asked[:2] == [1, 2]
    while service.drain_pending().taken:
        pass
    assert mismatches(service.store, service.model) == []
