"""Waits for a lead's result to be current (leadscore.app.lead_waits): answered when a drain is
signalled, or by the periodic check; bounded in time and in number; a cancelled wait is forgotten."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from leadscore.app.errors import Busy, NotFound
from leadscore.app.lead_waits import LeadWaits
from leadscore.app.results import LeadView
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.domain import Event
from tests.api.server import make_workspace
from tests.support.lead_waits import until_waiting


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LeadService]:
    found = LeadService.from_workspace(Workspace.load(make_workspace(tmp_path / "ws")))
    yield found
    found.close()


def _send(service: LeadService, lead: str, type_: str = "demo_request") -> None:
    service.ingest_events([Event.of(lead, type_, "2026-05-30T10:00:00Z")], defer=True)  # queued, not scored


def _has(view: object, rule: str) -> bool:
    result = getattr(view, "result", None)
    return result is not None and any(b.rule == rule for b in result.breakdown)


async def _across_a_drain(
    service: LeadService, waits: LeadWaits, then: Callable[[], None] | None = None, signal: bool = False
) -> LeadView:
    """Wait on lead "a" while a drain commits (then `then`, then the signal if `signal`)."""
    waiting = asyncio.ensure_future(waits.wait("a", 20.0))
    await until_waiting(waits)
    await asyncio.to_thread(service.drain_pending)
    if then is not None:
        await asyncio.to_thread(then)
    if signal:
        waits.scored()
    return await waiting


def test_a_wait_ends_as_soon_as_a_drain_is_signalled(service: LeadService) -> None:
    waits = LeadWaits(service, check_s=30.0)  # no periodic check within the test: only the signal
    _send(service, "a")

    async def scenario() -> tuple[float, object]:
        waiting = asyncio.ensure_future(waits.wait("a", 20.0))
        await until_waiting(waits)
        assert not waiting.done()
        await asyncio.to_thread(service.drain_pending)
        started = time.monotonic()
        waits.scored()
        view = await waiting
        return time.monotonic() - started, view

    took, view = asyncio.run(scenario())
    assert took < 5.0 and waits.waiting == 0
    assert view.pending is False and view.current is True and _has(view, "demo-request")  # type: ignore[attr-defined]


def test_an_unsignalled_drain_is_seen_by_the_periodic_check(service: LeadService) -> None:
    waits = LeadWaits(service, check_s=0.05)
    _send(service, "a")

    view = asyncio.run(_across_a_drain(service, waits))  # another process's drain: nobody signals it
    assert _has(view, "demo-request")


def test_a_wait_times_out_with_the_lead_still_pending_and_a_current_lead_is_answered_at_once(
    service: LeadService,
) -> None:
    waits = LeadWaits(service, check_s=0.05)
    _send(service, "a")
    started = time.monotonic()
    view = asyncio.run(waits.wait("a", 0.3))
    assert time.monotonic() - started >= 0.3 and view.pending is True and view.current is False
    service.drain_pending()
    started = time.monotonic()
    view = asyncio.run(waits.wait("a", 20.0))
    assert time.monotonic() - started < 5.0 and view.pending is False and _has(view, "demo-request")


def test_events_acknowledged_after_the_wait_began_do_not_hold_it(service: LeadService) -> None:
    waits = LeadWaits(service, check_s=30.0)
    _send(service, "a")

    def again() -> None:
        time.sleep(0.002)  # the next mark is a later one
        _send(service, "a", "page_view")  # queued again before the check

    view = asyncio.run(_across_a_drain(service, waits, then=again, signal=True))
    assert _has(view, "demo-request") and view.pending is True


def test_an_unknown_lead_is_not_found(service: LeadService) -> None:
    with pytest.raises(NotFound):
        asyncio.run(LeadWaits(service).wait("nobody", 1.0))


def test_the_number_of_waits_is_capped_and_a_cancelled_wait_is_forgotten(service: LeadService) -> None:
    waits = LeadWaits(service, limit=1, check_s=0.05)
    _send(service, "a")

    async def scenario() -> None:
        first = asyncio.ensure_future(waits.wait("a", 20.0))
        await until_waiting(waits)
        with pytest.raises(Busy):
            await waits.wait("a", 20.0)
        first.cancel()  # the client went away
        with pytest.raises(asyncio.CancelledError):
            await first
        assert waits.waiting == 0
        await asyncio.wait_for(waits.wait("a", 0.1), 10)  # room again

    asyncio.run(scenario())


def test_waits_begun_together_read_their_marks_on_a_few_connections(service: LeadService) -> None:
    """Many waits begun at once (a burst of requests while a bulk request held the interpreter) read
    their leads' queue marks on `MARK_THREADS` threads, each with one connection, not one connection
    each: a PostgreSQL pool opened and closed a connection for every one beyond the 5 it kept."""
    from contextlib import contextmanager

    from leadscore.app import lead_waits

    store = service.store
    plain_read = store.read
    held = most = 0

    @contextmanager
    def counted() -> Iterator[object]:
        nonlocal held, most
        with plain_read() as conn:
            held += 1  # under the GIL: the reads are what is counted, not exactness under contention
            most = max(most, held)
            time.sleep(0.02)  # a read slow enough for the waits to overlap
            try:
                yield conn
            finally:
                held -= 1

    for lead in "abcdefghijkl":
        _send(service, lead)
    waits = LeadWaits(service, check_s=0.05)
    store.read = counted  # type: ignore[method-assign]
    try:

        async def scenario() -> list[LeadView]:
            return list(await asyncio.gather(*(waits.wait(lead, 0.2) for lead in "abcdefghijkl")))

        views = asyncio.run(scenario())
    finally:
        store.read = plain_read  # type: ignore[method-assign]
    assert len(views) == 12 and all(v.pending for v in views)  # nothing drained: every wait ran out
    assert most <= lead_waits.MARK_THREADS + 1  # the marks' threads, and the waits' one check
