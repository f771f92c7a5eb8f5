"""`bulk.frame_scores`: the replay's conditions by NumPy from the window aggregates, against the SQL
over them, the join and the pure scorer's replay (`check_against_oracles`), where the arrays decide and
where they must leave a row to the join (a sum that rounds unlike `math.fsum`, a time past a BIGINT)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from leadscore.bulk import frame_scores, frames
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import to_micros
from leadscore.model import parse_model
from tests.sql.test_stage_windows import AT, AT_US, check_against_oracles

H = timedelta(hours=1)

WINDOWS = """
format: 1
name: windows
dimensions:
  engagement: {cap: 40, floor: -5}
  fit: {floor: 0}
rules:
  - {id: visit, dimension: engagement, on: page_view, points: 10, within: 1d, limit: 30}
  - {id: read, dimension: engagement, on: read, points: 16, decay: {half_life: 1d}, within: 2d, limit: 20}
  - {id: demo, dimension: engagement, on: demo, points: 12, once: true, decay: {linear: 2d}}
  - {id: quiet, dimension: engagement, when: {none: [page_view, read], within: 1d}, points: -5}
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 5}
  - {id: busy, dimension: fit, when: {all: [{count: page_view, within: 1d, gte: 2}, {not: {attribute: region, eq: x}}]},
     points: 3}
lifecycle:
  stages: [lead, mql, sql]
  exits: [recycled]
  initial: lead
  transitions:
    - {to: mql, when: {all: [{score: engagement, gte: 20}, {score: total, between: [20, 60]}]}}
    - {to: sql, when: {any: [{count: page_view, within: 1d, gte: 3}, {score: fit, eq: 8}]}}
    - {to: recycled, on: lost}
    - {to: lead, from: recycled, when: {not: {score: total, gt: 10}}}
"""


@pytest.fixture
def decided(monkeypatch: pytest.MonkeyPatch) -> list[pa.Table | None]:
    """Each part's conditions from the arrays (None: the SQL over the aggregates computed them)."""
    parts: list[pa.Table | None] = []

    def counting(real: Any) -> Any:
        def counted(*args: Any) -> Any:
            found = real(*args)
            parts.append(found)
            return found

        return counted

    monkeypatch.setattr(frame_scores, "conditions", counting(frame_scores.conditions))
    # (the table made with the idle rows evaluates its score conditions where they are read: `frame_reads`)
    monkeypatch.setattr(frames, "_read_table", counting(frames._read_table))
    return parts


def _ev(lead: str, typ: str, before: timedelta, eid: str) -> Event:
    return Event(lead, typ, AT - before, {}, eid)


def test_windows_edges_and_thresholds_by_the_arrays(decided: list[pa.Table | None]) -> None:
    """Visits one day apart exactly (the first leaves the window at the third), a count of 2 and 3 in the
    window, 30 capped at the limit, a `none` rule, a linear `once` decay and half-life reads: every
    row as the SQL, the join and the pure scorer give it, computed by the arrays."""
    model = parse_model(WINDOWS)
    events = [
        _ev("a", "page_view", 48 * H, "1"),
        _ev("a", "page_view", 30 * H, "2"),
        _ev("a", "page_view", 24 * H, "3"),  # exactly one day before T: out of the window at T
        _ev("a", "read", 24 * H, "4"),
        _ev("a", "page_view", 6 * H, "5"),
        _ev("a", "page_view", 6 * H, "6"),  # a tie: both count at their instant
        _ev("a", "demo", 5 * H, "7"),
        _ev("a", "lost", 4 * H, "8"),
        _ev("b", "read", 47 * H, "9"),
        _ev("b", "read", 20 * H, "10"),
    ]
    leads = [Lead("a", {"employees": 120, "region": "y"}), Lead("b", {"region": "x"}), Lead("c", {})]
    got = check_against_oracles(model, leads, events)
    assert decided and all(part is not None for part in decided)
    # the first visit alone: fit 5; at the second, 18 h later, two visits in the day: fit 5 + 3 = 8 exactly
    assert got.combined[("a", to_micros(AT - 48 * H))][1] is False
    assert got.combined[("a", to_micros(AT - 30 * H))][1] is True
    # at T the visit exactly one day before is out of the window: the two tied ones at 6 h, not three
    assert got.window[("a", AT_US)][1] is True


def test_a_sum_rounding_unlike_fsum_is_left_to_the_join(decided: list[pa.Table | None]) -> None:
    """0.1 + 0.2 + 0.3 adds to 0.6000000000000001 in order, `math.fsum` gives 0.6: against a threshold
    between the two, the arrays cannot decide; the join does, as the pure scorer."""
    model = parse_model(
        """
format: 1
name: rounding
rules:
  - {id: a, when: {attribute: tier, eq: 1}, points: 0.1}
  - {id: b, when: {attribute: tier, eq: 1}, points: 0.2}
  - {id: c, when: {attribute: tier, eq: 1}, points: 0.3}
  - {id: v, on: page_view, points: 0.0}
lifecycle:
  stages: [lead, mql]
  initial: lead
  transitions:
    - {to: mql, when: {score: total, gte: 0.6000000000000001}}
"""
    )
    got = check_against_oracles(model, [Lead("a", {"tier": 1})], [_ev("a", "page_view", H, "1")])
    assert decided and all(part is not None for part in decided)
    # both rows, in the table made with the idle rows and in the one without (`idle`: none dropped here)
    assert [part.column("_ls_c0").null_count for part in decided if part is not None] == [2, 2]
    assert got.combined[("a", AT_US)] == (False,)


def test_a_model_without_a_plan_keeps_the_sql(decided: list[pa.Table | None]) -> None:
    """A property's sum in a transition is not computed by the arrays: the SQL over the aggregates is."""
    model = parse_model(
        """
format: 1
name: sums
rules:
  - {id: v, on: order, points: 5}
lifecycle:
  stages: [lead, buyer]
  initial: lead
  transitions:
    - {to: buyer, when: {sum: amount, of: order, gte: 100}}
"""
    )
    events = [Event("a", "order", AT - k * H, {"amount": 60}, str(k)) for k in (3, 2)]
    got = check_against_oracles(model, [Lead("a", {})], events)
    assert decided == []
    assert got.combined[("a", AT_US)] == (True,)


def test_a_dimension_of_the_leads_rows_alone_is_scored_per_lead(decided: list[pa.Table | None]) -> None:
    """A dimension whose rules read the lead's attributes alone is scored once per lead and spread to its
    rows: clamped to its floor, a lead without attributes, and 0.1 + 0.2 + 0.3 in order against a threshold
    between it and `math.fsum`'s 0.6 (left to the join), every row as the SQL, the join and the pure scorer."""
    from leadscore.sql.stage_windows import window_conditions_query

    model = parse_model(
        """
format: 1
name: profile
dimensions:
  fit: {floor: 0}
  engagement: {}
rules:
  - {id: a, dimension: fit, when: {attribute: tier, eq: 1}, points: 0.1}
  - {id: b, dimension: fit, when: {any: [{attribute: tier, eq: 1}, {attribute: tier, eq: 2}]}, points: 0.2}
  - {id: c, dimension: fit, when: {not: {attribute: region, eq: x}}, points: 0.3}
  - {id: d, dimension: fit, when: {attribute: region, eq: x}, points: -1}
  - {id: v, dimension: engagement, on: page_view, points: 1, within: 1d}
lifecycle:
  stages: [lead, mql, sql]
  initial: lead
  transitions:
    - {to: mql, when: {all: [{score: fit, gte: 0.6000000000000001}, {score: total, gte: 1.6}]}}
    - {to: sql, when: {all: [{score: fit, eq: 0}, {score: engagement, gte: 2}]}}
"""
    )
    events = [_ev(lead, "page_view", k * H, f"{lead}{k}") for lead in "abc" for k in (30, 20, 2)]
    leads = [Lead("a", {"tier": 1, "region": "y"}), Lead("b", {"tier": 2, "region": "x"}), Lead("c", {})]
    got = check_against_oracles(model, leads, events)
    window = window_conditions_query(model, _schema(model), AT_US, "ids", dedupe=False, dups_table=None)
    assert window.arrays is not None
    per_lead = {r.dimension for r in window.arrays.rules if frame_scores._of_lead(r)}
    assert per_lead == {"fit"} and not frame_scores._of_lead(window.arrays.rules[-1])
    assert decided and all(part is not None for part in decided)
    # a: 0.6000000000000001 in order, 0.6 by fsum: too close for the arrays, the join decides (False)
    assert any(part.column("_ls_c0").null_count for part in decided if part is not None)
    assert got.combined[("a", AT_US)][0] is False
    # b: -1 + 0.2 floored at 0, two visits within the day at 20 h and 2 h: sql at T
    assert got.combined[("b", AT_US)][1] is True


def _schema(model: Any) -> Any:
    from leadscore.sql.dialects import infer_schema

    return infer_schema(model)
