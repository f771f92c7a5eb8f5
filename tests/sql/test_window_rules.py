"""The rules' points at each row's time in the one-pass replay (`sql.window_rules`): the half-life
sums over epochs and the linear decay's sums of times, against the join and the pure replay
(`tests.sql.test_stage_windows.check_against_oracles`), and `floor_div` against Python's."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from leadscore.batch import run_batch
from leadscore.domain.lead import Lead
from leadscore.model import parse_model
from leadscore.sql.window_rules import floor_div
from tests.batch.tables import events_table, leads_table
from tests.sql.test_stage_windows import AT, AT_US, THRESHOLDS, check_against_oracles, ev


@pytest.mark.parametrize("x", [-7, -6, -5, -1, 0, 1, 5, 6, 7, -(10**15) - 1, 10**15 + 1])
def test_floor_div_floors_times_before_1970_too(x: int) -> None:
    """BIGINT `//` truncates toward zero: `floor_div` is floor division for negative times as well."""
    got = duckdb.sql(f"SELECT {floor_div('x', 3)} FROM (SELECT CAST({x} AS BIGINT) AS x)").fetchall()[0][0]
    assert got == x // 3


def test_a_half_life_at_a_whole_number_of_half_lives() -> None:
    """A read 1 day (one half-life) before another: 16 * 0.5 + 16 = 24; at T, 2 days after the first
    (on the 2-day window's edge: out) and 1 day after the second, 8."""
    model = parse_model(THRESHOLDS)
    events = [ev("d", "read", timedelta(days=2), "1"), ev("d", "read", timedelta(days=1), "2")]
    check_against_oracles(model, [Lead("d", {})], events)


def test_heavy_leads_over_many_half_lives() -> None:
    """Hundreds of events over years with a short half-life and no window: the epochs keep every weight
    finite (the whole history spans far more than 2 ** 1024 in weights relative to one anchor)."""
    model = parse_model(
        THRESHOLDS.replace("decay: {half_life: 1d}, within: 2d", "decay: {half_life: 1h}").replace(
            "gte: 40}", "gte: 31}"
        )
    )
    events = [ev("f", "read" if k % 3 else "page_view", timedelta(hours=7 * k + (k % 5)), str(k)) for k in range(600)]
    got = check_against_oracles(model, [Lead("f", {})], events)
    assert len(got.combined) > 500


HEAVY_LINEAR = """
format: 1
name: heavy-linear
dimensions:
  fit: {}
rules:
  - {id: fade, dimension: fit, on: demo, points: 1, decay: {linear: 2d}}
lifecycle:
  stages: [lead, mql]
  initial: lead
  transitions:
    - {to: mql, when: {score: fit, gte: 3000}}
"""


def test_a_linear_decay_over_thousands_of_events_does_not_overflow() -> None:
    """6,000 demos within the 2-day linear decay: the count times the time (about 1.8e15 micros) is past
    a BIGINT (9.2e18), so the rewritten sum must not multiply them as BIGINTs. 300 demos at each of 20
    instants (ties keep the join and the pure replay small); the lead reaches 3,000 part-way, the
    other lead never does. Conditions, stage and history equal the join's and the pure scorer's, and
    the batch engine's results equal the pure scorer's."""
    from leadscore.engine import score_many
    from tests.batch.compare import differences

    model = parse_model(HEAVY_LINEAR)
    events = [ev("h", "demo", timedelta(hours=40 - 2 * (k // 300), minutes=7), str(k)) for k in range(6000)]
    events += [ev("i", "demo", timedelta(hours=k + 1), f"i{k}") for k in range(3)]
    leads = [Lead("h", {}), Lead("i", {})]
    got = check_against_oracles(model, leads, events)
    assert got.combined[("h", AT_US)] == (True,)
    assert got.combined[("i", AT_US)] == (False,)
    run = run_batch(model, leads_table(leads), events_table(events), AT)
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    assert not differences(expected, run.to_dicts())
    assert [r["stage"] for r in expected] == ["mql", "lead"]
