"""The one-pass replay's conditions decided three-valued under the scores' error bounds
(`sql.window_errors`): an exact value compares exactly, a rewritten decay's value too close to its
threshold is left to the join. Hand-computed cases at exact thresholds, each checked against the
join and the pure replay (`tests.sql.test_stage_windows.check_against_oracles`)."""

from __future__ import annotations

from datetime import timedelta

from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import to_micros
from leadscore.model import parse_model
from tests.sql.test_stage_windows import AT, AT_US, THRESHOLDS, check_against_oracles, ev


def test_a_cap_reached_exactly_decides_as_the_pure_scorer() -> None:
    """Three visits within the day: 45 capped to 40, exactly; `gte: 40` holds at the third visit, not
    at the second (30); at the fourth, exactly one day after the second, the second is out (T - 1d <
    ts fails on the edge) and the first long gone: two visits, 30."""
    model = parse_model(THRESHOLDS)
    h = timedelta(hours=1)
    events = [
        ev("a", "page_view", 30 * h, "1"),
        ev("a", "page_view", 29 * h, "2"),  # on the edge of the 1-day window at the fourth
        ev("a", "page_view", 28 * h, "3"),  # the third, within 1 day of the first: 45 -> 40
        ev("a", "page_view", 5 * h, "4"),
    ]
    got = check_against_oracles(model, [Lead("a", {})], events)
    at = {t: v for (_, t), v in got.combined.items()}
    assert at[to_micros(AT - 29 * h)][0] is False  # 30
    assert at[to_micros(AT - 28 * h)][0] is True  # 45, capped at 40 exactly
    assert at[to_micros(AT - 5 * h)][0] is False
    assert got.window[("a", to_micros(AT - 28 * h))][0] is True  # decided without the join


def test_a_decayed_sum_exactly_at_its_threshold_goes_to_the_join() -> None:
    """fit: a demo 1 day before T under a 2-day linear decay gives 10 and the attribute 5: exactly 15,
    `eq: 15`. The one pass's rewritten sum cannot tell 15 from its neighbours; the join decides."""
    model = parse_model(THRESHOLDS)
    events = [ev("c", "demo", timedelta(days=1), "1"), ev("c", "page_view", timedelta(hours=1), "2")]
    got = check_against_oracles(model, [Lead("c", {"employees": 100})], events)
    assert got.window[("c", AT_US)][1] is None
    assert got.join[("c", AT_US)][1] is True
    assert got.combined[("c", AT_US)][1] is True
    # at the demo's own time its factor is 1: 20 + 5, certainly not 15, decided in one pass
    assert got.window[("c", to_micros(AT - timedelta(days=1)))][1] is False
