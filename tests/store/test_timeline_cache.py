"""The worker's drains keep copies of the timelines they read (leadscore.store.timeline_cache) and read
only what was appended since: the drained store still holds exactly what rescoring at once writes,
through late events, merges (events moved in with their old log positions) and erasures."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadscore.app.service import LeadService
from leadscore.domain import Event
from leadscore.domain.timeutil import to_micros
from leadscore.io import read_events, read_leads
from leadscore.store.pending import mark
from leadscore.store.timeline_cache import for_store
from tests.store.conftest import BACKENDS
from tests.store.helpers import B2B, b2b_service, mismatches, written_rows

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def _drain(service: LeadService) -> None:
    """As the worker drains: the real-time leads, then the longest-waiting, a few at a time."""
    while service.backlog().leads:
        service.drain_pending(5, which="realtime")
        service.drain_pending(5, which="backlog")


def _drained(kind: str, tmp_path: Path, name: str, request: pytest.FixtureRequest, events: list[Event]) -> LeadService:
    """A store whose `events` were ingested deferred and drained (the drains' copies made)."""
    service = b2b_service(kind, tmp_path, name, request, [NOW])
    service.ingest_events(events, defer=True)
    _drain(service)
    return service


def _tied_in_order(events: list[Event]) -> list[Event]:
    """`events` in time order, one in three moved to the time of the one before it (as a sender's
    batches often share an instant)."""
    events = sorted(events, key=lambda e: e.ts)
    tied = [
        e if i % 3 else Event(e.lead_id, e.type, events[i - 1].timestamp, e.properties, e.id)
        for i, e in enumerate(events)
        if i
    ]
    return sorted(events[:1] + tied, key=lambda e: e.ts)


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("order", ["shuffled", "in time, tied"])
def test_drains_from_copies_write_what_rescoring_at_once_writes(
    kind: str, order: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    clock = [NOW]
    at_once = b2b_service(kind, tmp_path, "at-once", request, clock)
    deferred = b2b_service(kind, tmp_path, "deferred", request, clock)
    try:
        leads = list(read_leads(B2B / "data" / "leads.csv"))
        at_once.ingest_leads(leads)
        deferred.ingest_leads(leads)
        events = list(read_events(B2B / "data" / "events.csv"))
        if order == "shuffled":  # late events: appended ones land inside the copies' timelines
            random.Random(7).shuffle(events)
        else:  # the drains extend the engine timelines they keep (`Timeline.extend`), ties included
            events = _tied_in_order(events)
        ids = sorted({e.lead_id for e in events})
        batches = [events[i : i + 40] for i in range(0, len(events), 40)]
        for n, batch in enumerate(batches):
            clock[0] = NOW + timedelta(minutes=n)
            for service in (at_once, deferred):
                if n == len(batches) // 3:  # a merge moves events in with their old positions
                    service.merge(ids[0], ids[1])
                if n == len(batches) // 2:  # an erased lead comes back with new events
                    service.erase(ids[2])
                    service.ingest_events([Event(ids[2], "page_view", clock[0], {"url": "/pricing"}, f"back-{n}")])
            at_once.ingest_events(batch)
            deferred.ingest_events(batch, defer=True)
            _drain(deferred)
        cache = for_store(deferred.store)
        # copies were used, and refused when the log changed otherwise (the erasure drops them all)
        assert cache.hits > 0 and cache.misses > 0
        if order != "shuffled":
            assert cache.extended > 0
        expected, found = written_rows(at_once.store), written_rows(deferred.store)
        for table in expected:
            assert found[table] == expected[table], table
        assert mismatches(deferred.store, deferred.model) == []
    finally:
        at_once.close()
        deferred.close()


def test_a_copy_the_store_disagrees_with_is_read_again_whole(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    first = [Event("a", "page_view", NOW + timedelta(seconds=i), {}, f"e{i}") for i in range(3)]
    service = _drained("sqlite", tmp_path, "one", request, first)
    try:
        cache = for_store(service.store)
        before = cache.misses
        # a later event at an earlier time: appended, it goes first in the timeline
        service.ingest_events([Event("a", "page_view", NOW - timedelta(days=1), {}, "early")], defer=True)
        _drain(service)
        assert (cache.hits, cache.misses) == (1, before)
        # the stamp says otherwise than the copy (as after a merge or an erasure): the whole log again
        with service.store.read() as conn:
            stamp = (*(None,) * 5, 3, 1, 1)  # three events, not four
            timelines, _ = cache.timelines(conn, ["a"], {"a": stamp})
        assert cache.misses == before + 1
        assert [e.id for e in timelines["a"]] == ["early", "e0", "e1", "e2"]
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_lead_queued_again_without_new_events_is_drained_from_its_copy(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # an attribute change, a settle after a model apply: the lead is queued with nothing appended
    first = [Event("a", "page_view", NOW - timedelta(hours=i), {}, f"e{i}") for i in range(3)]
    service = _drained(kind, tmp_path, "requeued", request, first)
    try:
        cache = for_store(service.store)
        hits = cache.hits
        service.store.transact(lambda conn: mark(conn, ["a"], to_micros(NOW)))
        _drain(service)
        assert cache.hits == hits + 1
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()


def test_an_erased_lead_whose_log_positions_sqlite_gives_again_is_read_whole(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # SQLite numbers a new event after the highest row left: erasing the newest events gives their
    # positions again, so the same lead's new log can count, bound and sum as its erased one did
    first = [Event("a", "page_view", NOW - timedelta(hours=i), {}, f"e{i}") for i in range(3)]
    service = _drained("sqlite", tmp_path, "erased", request, first)
    try:
        before = service.result("a")
        service.erase("a")
        again = [Event("a", "demo_request", NOW - timedelta(minutes=i), {}, f"n{i}") for i in range(3)]
        service.ingest_events(again, defer=True)
        _drain(service)
        assert mismatches(service.store, service.model) == []
        assert service.result("a").score != before.score
    finally:
        service.close()


def test_a_copy_is_not_extended_for_a_time_before_its_events(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # a drain at an earlier time than the copy's last event (a clock set back, a drain `at=`): the
    # timeline at that time leaves those events out, so the copy's timeline is built anew
    clock = [NOW + timedelta(hours=1)]
    service = b2b_service("sqlite", tmp_path, "back", request, clock)
    try:
        moves = ["page_view", "sales_accepted", "opportunity_created"]  # the stage follows the events replayed
        events = [Event("a", t, NOW + timedelta(minutes=i), {}, f"e{i}") for i, t in enumerate(moves)]
        service.ingest_events(events, defer=True)
        _drain(service)
        cache = for_store(service.store)
        extended = cache.extended
        clock[0] = NOW - timedelta(days=1)
        service.store.transact(lambda conn: mark(conn, ["a"], to_micros(clock[0])))
        _drain(service)
        assert cache.extended == extended
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()
