"""`next_change_at` from the SQL equals the pure scorer's next change, lead by lead (what `refresh` relies on)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from leadscore.batch.duckdb.run import connect
from leadscore.batch.duckdb.sources import prepare
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import to_micros
from leadscore.engine.scorer import Scorer
from leadscore.engine.timeline import Timeline
from leadscore.model import parse_model
from leadscore.sql.lookups import Lookups
from leadscore.sql.query import build_query
from tests.batch.tables import events_table, leads_table
from tests.support.profiles import examples
from tests.support.strategies import AT, edge_data, edge_models, valid_model

AT_US = to_micros(AT)


def _sql_next_changes(model: Any, leads: list[Lead], events: list[Event]) -> dict[str, tuple[int | None, bool]]:
    con = connect()
    schema = prepare(con, leads_table(leads), events_table(events))
    lookups = Lookups("duckdb")  # regexes and non-ASCII case folding: the pure scorer's predicate per value
    plan = build_query(model, schema, AT_US, event_leads=True, next_change=True, lookups=lookups)
    lookups.fill_duckdb(con)
    rows = con.execute(f"SELECT lead_id, next_change_at, fallback FROM ({plan.sql})").fetchall()
    return {str(r[0]): (r[1], bool(r[2])) for r in rows}


def _expected(model: Any, leads: list[Lead], events: list[Event]) -> dict[str, int | None]:
    scorer = Scorer(model)
    ids = sorted({lead.id for lead in leads} | {e.lead_id for e in events})
    known = {lead.id: lead for lead in leads}
    out = {}
    for i in ids:
        lead = known.get(i, Lead(i))
        timeline = Timeline([e for e in events if e.lead_id == i], until=AT_US)
        out[i] = scorer.next_change(lead, timeline, AT_US)
    return out


@pytest.mark.slow
@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(edge_models(), edge_data(stages=False))
def test_next_change_equals_pure_scorer(model_data: dict[str, Any], sample: tuple[list[Lead], list[Event]]) -> None:
    model = valid_model(model_data)
    leads, events = sample
    got = _sql_next_changes(model, leads, events)
    expected = _expected(model, leads, events)
    assert set(got) == set(expected)
    for lead_id, want in expected.items():
        value, fallback = got[lead_id]
        if not fallback:
            assert value == want, lead_id


def test_windows_decay_and_last() -> None:
    """A hand-made case: the earliest of a window exit, a linear decay end and a `last:` flip."""
    model = parse_model(
        """
format: 1
name: horizon
rules:
  - {id: view, on: view, within: 10d, points: 1}
  - {id: demo, on: demo, once: true, decay: {linear: 30d}, points: 30}
  - {id: recent, when: {last: click, newer_than: 2d}, points: 5}
"""
    )
    day = 86_400_000_000
    from leadscore.domain.timeutil import from_micros

    events = [
        Event("a", "view", from_micros(AT_US - 9 * day), {}, "1"),  # leaves the 10d window in 1 day
        Event("b", "demo", from_micros(AT_US - 29 * day - day // 2), {}, "2"),  # decay ends in 12 h
        Event("c", "click", from_micros(AT_US - day - day // 4), {}, "3"),  # newer_than flips in 18 h
        Event("d", "view", from_micros(AT_US - 20 * day), {}, "4"),  # already out: nothing to wait for
    ]
    got = _sql_next_changes(model, [], events)
    assert got["a"][0] == AT_US + day
    assert got["b"][0] == AT_US + day // 2
    assert got["c"][0] == AT_US + day - day // 4
    assert got["d"][0] is None


def test_a_decaying_rule_with_a_window_ends_when_the_event_leaves_it() -> None:
    """Hand-computed: a half-life decay inside `within: 7d` comes back daily while the event is in the
    window, at its exit when that is sooner, and never once it has left (it counts for nothing then)."""
    model = parse_model(
        """
format: 1
name: horizon
rules:
  - {id: buy, on: buy, within: 7d, decay: {half_life: 30d}, points: 10}
"""
    )
    day = 86_400_000_000
    from leadscore.domain.timeutil import from_micros

    events = [
        Event("in", "buy", from_micros(AT_US - 2 * day), {}, "1"),  # in the window: back in a day
        Event("leaving", "buy", from_micros(AT_US - 6 * day - day // 2), {}, "2"),  # leaves in 12 h
        Event("out", "buy", from_micros(AT_US - 10 * day), {}, "3"),  # out of the window: never
    ]
    want = {"in": AT_US + day, "leaving": AT_US + day // 2, "out": None}
    assert {k: v[0] for k, v in _sql_next_changes(model, [], events).items()} == want
    assert _expected(model, [], events) == want


def test_the_earliest_event_of_a_window_at_its_exact_edges() -> None:
    """The earliest event still inside a window (`_earliest`, one aggregate over the flagged events): one
    exactly at T - within is out (nothing to wait for), one a microsecond later leaves a microsecond
    after T; another type beside it counts for nothing, nor does an event after T."""
    model = parse_model(
        """
format: 1
name: horizon
rules:
  - {id: view, on: view, within: 10d, points: 1}
  - {id: buy, on: buy, within: 7d, decay: {half_life: 30d}, points: 10}
"""
    )
    day = 86_400_000_000
    from leadscore.domain.timeutil import from_micros

    events = [
        Event("edge", "view", from_micros(AT_US - 10 * day), {}, "1"),  # at the edge: out
        Event("inside", "view", from_micros(AT_US - 10 * day + 1), {}, "2"),  # leaves at T + 1 us
        Event("inside", "click", from_micros(AT_US - 20 * day), {}, "3"),  # another type: not its earliest
        Event("buy", "buy", from_micros(AT_US - 7 * day + 1), {}, "4"),  # leaves (ends its decay) at T + 1 us
        Event("buy", "buy", from_micros(AT_US - 7 * day), {}, "5"),  # at the edge: out
        Event("late", "view", from_micros(AT_US + day), {}, "6"),  # after T: not seen
    ]
    want = {"edge": None, "inside": AT_US + 1, "buy": AT_US + 1, "late": None}
    assert {k: v[0] for k, v in _sql_next_changes(model, [], events).items()} == want
    assert _expected(model, [], events) == want
