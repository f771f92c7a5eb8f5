"""The real-time path's one-lead statements on PostgreSQL read what the many-lead ones read, and the
server keeps one plan for them (leadscore.store.realtime_pg: `STATES_ONE_PG`, `TIMELINE_ONE_PG`);
a result read by itself (`queries.stored_result`) is the result read in a transaction, on both stores."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from leadscore.app.service import LeadService
from leadscore.domain import Event
from leadscore.store import queries, realtime_pg
from leadscore.store.events_repo import TIMELINE_ONE_PG, TIMELINES_PG, load_timelines
from leadscore.store.realtime_conn import autocommit_driver
from leadscore.store.results_repo import STATES_ONE_PG, STATES_PG
from tests.store.conftest import BACKENDS
from tests.store.helpers import b2b_service, random_events
from tests.store.test_pending import NOW


@pytest.fixture(params=BACKENDS)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LeadService]:
    found = b2b_service(request.param, tmp_path, "s", request, [NOW])
    arrivals = random_events(3, 6, 200)
    for start in range(0, 120, 3):  # some one at a time (the real-time path), some queued
        found.ingest_events(arrivals[start : start + 3], defer=start % 2 == 1)
    found.ingest_events(arrivals[120:], defer=True)  # leads queued for rescoring, as a deferred intake leaves them
    found.ingest_events([Event.of("visitor-9", "page_view", NOW - timedelta(days=2), path="/pricing")])
    found.ingest_events([Event.of("b-x", "identify", NOW - timedelta(days=1), anonymous_id="visitor-9")])
    yield found
    found.close()


def _leads(service: LeadService) -> list[str]:
    with service.store.read() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT id FROM leads ORDER BY id")]


def test_a_result_read_by_itself_is_the_result_read_in_a_transaction(service: LeadService) -> None:
    ids = _leads(service)
    assert len(ids) > 5
    for lead in [*ids, "visitor-9", "nobody"]:
        with service.store.read() as conn:
            conn.exec_driver_sql("SELECT 1").all()  # in a transaction
            expected = queries.result(conn, lead)
        assert queries.stored_result(service.store, lead) == expected == service.result(lead)


def _rows(cur: Any, sql: str, param: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in cur.execute(sql, (param,)).fetchall()]


@pytest.mark.integration
def test_one_lead_statements_read_the_rows_of_the_many_lead_ones(service: LeadService) -> None:
    if service.store.name != "postgres":
        pytest.skip("PostgreSQL's real-time statements")
    ids = _leads(service)
    with autocommit_driver(service.store) as raw, raw.cursor() as cur:
        for lead in [*ids, "visitor-9", "nobody"]:
            assert _rows(cur, STATES_ONE_PG, lead) == _rows(cur, STATES_PG, [lead])
            timeline = _rows(cur, TIMELINE_ONE_PG, lead)
            assert timeline == _rows(cur, TIMELINES_PG, [lead])
            assert (len(timeline) > 0) == (lead in ids)


@pytest.mark.integration
def test_the_server_plans_the_one_lead_statements_once(service: LeadService) -> None:
    """Prepared (after psycopg's five runs), each takes the generic plan, where the many-lead
    statements are planned again at every run (a custom plan each time: about 0.2 ms of the server's
    time for the leads' states, five times their execution)."""
    if service.store.name != "postgres":
        pytest.skip("PostgreSQL's plans")
    ids = _leads(service)
    with autocommit_driver(service.store) as raw, raw.cursor() as cur:
        # tables of a store in use (the plans a small one gets say little): other leads, their events
        cur.execute(
            "INSERT INTO leads (id, attributes, account, created_at, updated_at) "
            "SELECT 'z' || i, '{}', NULL, 0, 0 FROM generate_series(1, 20000) AS i"
        )
        cur.execute(
            "INSERT INTO events (event_key, lead_id, received_lead_id, type, ts, properties, ingested_at) "
            "SELECT 'k' || i, 'z' || (i % 20000), 'z' || (i % 20000), 'page_view', i, '{}', 0 "
            "FROM generate_series(1, 100000) AS i"
        )
        cur.execute("ANALYZE")
        for lead in ids * 3:
            cur.execute(STATES_ONE_PG, (lead,)).fetchall()
            cur.execute(TIMELINE_ONE_PG, (lead,)).fetchall()
        plans = cur.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE 'SELECT leads.id, %' OR statement LIKE 'SELECT event_key, %'"
        ).fetchall()
    one_lead = [(generic, custom) for statement, generic, custom in plans if "= $1" in statement]
    assert len(one_lead) == 2, plans
    for generic, custom in one_lead:
        assert custom <= 5 and generic >= len(ids) * 3 - 10, plans


@pytest.mark.integration
def test_timelines_read_through_the_event_cache_are_the_stored_timelines(service: LeadService) -> None:
    """`realtime_pg._timeline_rows` (each Event built once per row content) against `load_timelines`,
    read cold and again from what the first read kept; a moved event (visitor-9's, now b-x's) is
    another content, and the cache emptied when full still reads the same."""
    if service.store.name != "postgres":
        pytest.skip("PostgreSQL's real-time path")
    ids = _leads(service)
    with service.store.read() as conn:
        expected_seqs: dict[str, list[int]] = {}
        expected = load_timelines(conn, ids, expected_seqs)
    assert any(e.id is not None and "/" in e.id for e in expected["b-x"])  # visitor-9's event, moved
    realtime_pg._EVENTS.clear()
    for kept in (realtime_pg.EVENTS_KEPT, 7):
        for _ in range(2):
            with autocommit_driver(service.store) as raw, realtime_pg._reader(raw, text=True) as cur:
                rows = cur.execute(TIMELINES_PG, (ids,)).fetchall()
            found: dict[str, list[Event]] = defaultdict(list)
            seqs: dict[str, list[int]] = {}
            with monkeypatch_kept(kept):
                realtime_pg._timeline_rows(rows, found, seqs)
            assert found == expected and seqs == expected_seqs
            assert [e.id for lead in ids for e in found[lead]] == [e.id for lead in ids for e in expected[lead]]
    realtime_pg._EVENTS.clear()


@contextmanager
def monkeypatch_kept(kept: int) -> Iterator[None]:
    saved = realtime_pg.EVENTS_KEPT
    realtime_pg.EVENTS_KEPT = kept
    try:
        yield
    finally:
        realtime_pg.EVENTS_KEPT = saved
