"""A bulk batch's row tuples (`event_row_tuples`) are the rows `event_rows` builds, as the driver takes
them: the same keys, leads and properties' text, byte for byte; the drains read timelines lead by lead."""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.domain import Event
from leadscore.store.backends import event_tuples, json_text
from leadscore.store.base import open_store
from leadscore.store.events_repo import (
    _TIMELINES_PG_TEXT,
    event_row_tuples,
    event_rows,
    json_ready,
    load_timelines,
    properties_text,
)
from leadscore.store.leads_repo import unaliased_leads_sql
from leadscore.store.queued_append import unaliased_insert
from leadscore.store.timeline_cache import _AFTER_PG
from tests.store.conftest import fresh_database_url
from tests.support.profiles import examples

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(),  # NaN and the infinities too: `plain` makes them null
    st.text(max_size=6),
    st.datetimes(timezones=st.just(UTC)),
    st.dates(),
    st.decimals(allow_nan=False, places=2, min_value=-1000, max_value=1000),
    st.binary(max_size=3),
    st.tuples(st.integers(0, 3)),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner))
properties = st.dictionaries(st.text(max_size=4), values, max_size=4)


# Not an engine-equality property: one serializer against its two-step definition. 100 examples on CI
# (derandomised: the same ones each run; 200 random ones a run locally, 1,000 under `deep`) draw each
# kind of value (NaN and the infinities, datetimes, dates, decimals, bytes, tuples, nesting, key order)
# many times over; the hand-written case below pins the unusual numbers and times. 300 cost ~7 s.
@settings(max_examples=examples(100), deadline=None)
@given(properties, st.booleans())
def test_the_properties_text_is_the_stored_text(props: dict[str, Any], ordered: bool) -> None:
    given_props = OrderedDict(props) if ordered else props  # any mapping, not only a dict
    assert properties_text(given_props) == json_text(json_ready(given_props))


def test_the_properties_text_of_unusual_numbers_and_times() -> None:
    when = datetime(2026, 5, 30, 10, tzinfo=UTC)
    props = {"a": math.nan, "b": math.inf, "c": 1.5, "d": when, "e": date(2026, 5, 30), "f": Decimal("2.50")}
    assert properties_text(props) == json_text(json_ready(props))
    assert properties_text({"x": 1.0, "y": "é"}) == '{"x": 1.0, "y": "\\u00e9"}'


events = st.builds(
    Event,
    lead_id=st.sampled_from(["a", "b", "alias-1"]),
    type=st.sampled_from(["page_view", "email_click"]),
    timestamp=st.datetimes(timezones=st.just(UTC)),
    properties=properties,
    id=st.one_of(st.none(), st.sampled_from(["e1", "e2", "h:abc"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(events, max_size=12))
def test_row_tuples_are_the_rows_as_the_driver_takes_them(batch: list[Event]) -> None:
    resolved = {"alias-1": "a"}
    assert event_row_tuples(batch, resolved, 7) == event_tuples(event_rows(batch, resolved, 7))


def test_the_real_time_statements_take_their_rows_as_one_parameter() -> None:
    """PostgreSQL's real-time append sends its event rows and its ids as one JSON text each (psycopg
    dumps one text for a fraction of the cost of seven values a row and of text[] arrays): as many
    parameters for five events as for one, and the rows' values in that text as `event_rows` has them."""
    import json

    at = datetime(2026, 5, 30, tzinfo=UTC)
    batch = [Event(f'l"{i % 2}\\', "page_view", at, {"p": "ü", "n": i}, f"e{i}") for i in range(5)]
    rows = event_rows(batch, {}, 7)
    sql, params = unaliased_insert(rows, 7)
    assert sql.count("%s") == len(params) == 2
    assert json.loads(params[0]) == rows and params[1] == 7
    sql, params = unaliased_leads_sql(['l"0\\', 'l"1\\'], 7)
    assert sql.count("%s") == len(params) == 3 and json.loads(params[0]) == ['l"0\\', 'l"1\\']


@pytest.mark.integration
def test_a_drains_timelines_are_read_lead_by_lead_from_a_table_not_analyzed_yet(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """On a table filled since its last ANALYZE (a bulk load), the timelines' statements (the whole
    log, `load_timelines`; the events after the drains' copies, `timeline_cache`) look each lead up in
    `ix_events_lead_ts`: folded into a join, they scanned and sorted the whole table for 200 leads.
    And they still give each lead's events in time order, ties in log order."""
    store = open_store(fresh_database_url("postgres", tmp_path, request, migrated=True))
    try:
        with store.write() as conn:  # 2,000 leads of 30 events, every 7th at the same instant as the one before
            conn.exec_driver_sql(
                "INSERT INTO events (event_key, lead_id, received_lead_id, type, ts, properties, ingested_at) "
                "SELECT 'k' || n, 'L' || mod(n, 2000), 'L' || mod(n, 2000), 'page_view', mod(n * 7919, 60000) / 7, "
                "CAST('{}' AS jsonb), 0 FROM generate_series(1, 60000) AS n"
            )
        ids = sorted(f"L{n}" for n in range(200))
        with store.read() as conn:
            for sql, params in ((_TIMELINES_PG_TEXT, (ids,)), (_AFTER_PG, (ids, [0] * len(ids)))):
                plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql, params))
                assert "Seq Scan on events" not in plan and "ix_events_lead_ts" in plan, plan
            seqs: dict[str, list[int]] = {}
            found = load_timelines(conn, ids, seqs)
            rows = conn.exec_driver_sql(
                "SELECT lead_id, ts, seq FROM events WHERE lead_id = ANY(%s) ORDER BY lead_id, ts, seq", (ids,)
            ).all()
        expected: dict[str, list[tuple[int, int]]] = {}
        for lead, ts, seq in rows:
            expected.setdefault(lead, []).append((ts, seq))
        assert {lead: list(zip((e.ts for e in found[lead]), seqs[lead], strict=True)) for lead in found} == expected
    finally:
        store.dispose()
