"""The drain's reads (on PostgreSQL each lead looked up from an array rather than an IN list; on SQLite
the stamps' one pass over the events; the worker's stamps and states in one statement) give what
the portable statements give: every lead's timeline in log order with its log positions, and the stamps
`drain_reads.stamps` compares. Each is run more than five times, so that the driver prepares it and the
server plans it for any parameters, as in a long-running rescoring process."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from leadscore.domain import Event, Lead
from leadscore.domain.timeutil import from_micros
from leadscore.store import drain_reads
from leadscore.store.codec import timeline_id
from leadscore.store.drain_reads import states_and_stamps
from leadscore.store.events_repo import _TIMELINES, load_timelines
from leadscore.store.identity import ANONYMOUS_ID, IDENTIFY
from leadscore.store.results_repo import load_lead_states
from tests.store.conftest import BACKENDS
from tests.store.helpers import b2b_service, random_events
from tests.store.test_pending import NOW


def _portable_timelines(conn: Connection, ids: list[str]) -> tuple[dict[str, list[Event]], dict[str, list[int]]]:
    out: dict[str, list[Event]] = defaultdict(list)
    seqs: dict[str, list[int]] = defaultdict(list)
    for key, lead_id, received, type_, ts, properties, seq in conn.execute(_TIMELINES, {"ids": ids}):
        event_id = key if received == lead_id else timeline_id(key, lead_id, received)
        out[lead_id].append(Event(lead_id, type_, from_micros(ts), properties, event_id))
        seqs[lead_id].append(seq)
    return dict(out), dict(seqs)


def _portable_stamps(conn: Connection, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = dict.fromkeys(ids, ())
    for lead, *stamp, _version in conn.execute(drain_reads.STAMPS, {"ids": ids}):
        out[lead] = tuple(stamp)
    return out


@pytest.mark.parametrize("kind", BACKENDS)
def test_timelines_and_stamps_equal_the_portable_statements(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    service = b2b_service(kind, tmp_path, "s", request, [NOW])
    try:
        events = random_events(5, 30, 600)
        tie = events[0].timestamp  # several events of one lead at one instant: their order is their log order
        events += [Event("L0001", "page_view", tie, {"path": f"/t{i}"}, f"tie-{i}") for i in range(5)]
        events += [Event("anon-1", "page_view", tie + timedelta(days=1), {"path": "/pricing"}, "a1")]
        service.ingest_events(events[:300])  # these leads get results: their stamps carry them
        service.ingest_events(events[300:], defer=True)
        # the anonymous visitor's events move to L0002 (received under another lead id)
        service.ingest_events([Event("L0002", IDENTIFY, tie + timedelta(days=2), {ANONYMOUS_ID: "anon-1"}, "id-1")])
        service.ingest_leads([Lead("no-events", {"employees": 50, "title": "CTO é"})])  # a count of 0
        ids = sorted({e.lead_id for e in events} | {"L0002", "no-such-lead", "no-events"})
        with service.store.read() as conn:
            for rep in range(8):  # prepared by the driver after 5 runs, then planned generically
                part = ids[rep % 3 :: 2] if rep < 7 else ids
                seqs: dict[str, list[int]] = {}
                found = load_timelines(conn, part, seqs)
                expected, expected_seqs = _portable_timelines(conn, part)
                assert dict(found) == expected
                assert seqs == expected_seqs
                stamps, active = drain_reads.stamps(conn, part)
                assert stamps == _portable_stamps(conn, part)
                assert active == drain_reads.active_version(conn)
                # the worker's drains read the stamps with the leads' states, in one statement
                queued: set[str] = set()
                both, leads, rows, both_active = states_and_stamps(conn, part, queued)
                expected_queued: set[str] = set()
                assert (leads, rows, both_active) == load_lead_states(conn, part, expected_queued)
                assert both == stamps and queued == expected_queued
        assert len(expected["L0001"]) > 5 and any((e.id or "").startswith("anon-1") for e in expected["L0002"])
        assert stamps["no-such-lead"] == () and any(s[1] is not None for s in stamps.values() if s)
        assert stamps["no-events"][-3:] == (0, None, None) and queued and len(queued) < len(leads)
    finally:
        service.close()
