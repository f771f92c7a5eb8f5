"""A clamped dimension is its bound exactly (MODEL-FORMAT.md), in the pure scorer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.domain import Event, Lead
from leadscore.engine import score, score_many
from leadscore.model import parse_model
from tests.support import thresholds


def test_cap_and_floor_are_exact_at_label_thresholds() -> None:
    model = parse_model(thresholds.MODEL)
    results = score_many(model, thresholds.LEADS, thresholds.events(), thresholds.AT)
    thresholds.check_all([r.to_dict() for r in results])


def test_seed_rule_engaged_means_above_zero_after_a_floor_of_zero() -> None:
    """'Everyone with a positive score is engaged': a floored score of 0 is not positive."""
    model = parse_model(
        """
format: 1
name: shoes
dimensions: {engagement: {floor: 0}}
rules:
  - {id: visit, dimension: engagement, on: visit, points: 0.9}
  - {id: bounce, dimension: engagement, on: bounce, points: -1.9}
  - {id: unsubscribe, dimension: engagement, on: unsubscribe, points: -2.9}
labels:
  segment:
    - {label: engaged, when: {score: total, gt: 0}}
    - {label: not-engaged}
"""
    )
    events = [Event.of("l", t, "2026-05-01", id=t) for t in ("visit", "bounce", "unsubscribe")]
    result = score(model, Lead("l"), events, thresholds.AT)
    assert result.score == 0.0
    assert result.dimensions == {"engagement": 0.0}
    assert result.labels == {"segment": "not-engaged"}
    assert [b.rule for b in result.breakdown] == ["visit", "bounce", "unsubscribe", "floor:engagement"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=-500, max_value=500), min_size=1, max_size=6),
    st.integers(min_value=-20, max_value=20),
    st.integers(min_value=0, max_value=40),
)
def test_clamped_dimensions_are_their_bounds(tenths: list[int], floor: int, width: int) -> None:
    """Whatever the points, a dimension clamped by its floor or cap is that bound, bit for bit, and
    the breakdown still adds up to the score within rounding."""
    cap = floor + width
    rules = "\n".join(f"  - {{id: r{i}, dimension: d, on: e{i}, points: {t / 10}}}" for i, t in enumerate(tenths))
    model = parse_model(f"format: 1\nname: p\ndimensions: {{d: {{floor: {floor}, cap: {cap}}}}}\nrules:\n{rules}\n")
    events = [Event.of("l", f"e{i}", "2026-05-01", id=str(i)) for i in range(len(tenths))]
    result = score(model, Lead("l"), events, thresholds.AT)
    raw = sum(t / 10 for t in tenths)
    if raw > cap + 1e-9:
        assert result.dimensions["d"] == cap
    elif raw < floor - 1e-9:
        assert result.dimensions["d"] == floor
    assert floor <= result.score <= cap
    added = sum(b.points for b in result.breakdown)
    assert abs(added - result.score) <= 1e-12 * max(1.0, abs(result.score))


def test_lifecycle_transitions_compare_the_exact_bound() -> None:
    model = parse_model(thresholds.LIFECYCLE_MODEL)
    results = score_many(model, thresholds.LEADS, thresholds.lifecycle_events(), thresholds.AT)
    assert {r.lead_id: r.stage for r in results} == thresholds.STAGES
    thresholds.check_all([r.to_dict() for r in results])
