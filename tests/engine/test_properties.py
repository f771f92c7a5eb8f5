"""Invariants of the pure scorer on generated models and data (hypothesis)."""

from __future__ import annotations

import math
from datetime import timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from leadscore.domain import Event
from leadscore.engine import Scorer
from leadscore.model import ScoringModel
from tests.support.profiles import examples
from tests.support.strategies import AT, events_for, leads, models, populations

SETTINGS = settings(max_examples=examples(120), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(models(), leads("L0"), events_for("L0"))
def test_breakdown_adds_up_to_the_score_and_dimensions(model: ScoringModel, lead, events: list[Event]) -> None:  # type: ignore[no-untyped-def]
    """MODEL-FORMAT.md: a clamped dimension is its bound exactly, the total the sum of the dimensions,
    and the breakdown adds up to both within rounding (relative 1e-12); an unclamped dimension is
    exactly the rounded sum of its entries."""
    r = Scorer(model).score(lead, events, AT)
    assert r.score == math.fsum(r.dimensions.values())
    assert math.isclose(math.fsum(b.points for b in r.breakdown), r.score, rel_tol=1e-12, abs_tol=1e-12)
    for dim, value in r.dimensions.items():
        entries = [b for b in r.breakdown if b.dimension == dim]
        added = math.fsum(b.points for b in entries)
        spec = model.dimension_spec(dim)
        clamps = [b.rule for b in entries if b.rule in (f"cap:{dim}", f"floor:{dim}")]
        if clamps == [f"cap:{dim}"]:
            assert value == spec.cap
        elif clamps == [f"floor:{dim}"]:
            assert value == spec.floor
        else:
            assert clamps == [] and added == value
        assert math.isclose(added, value, rel_tol=1e-12, abs_tol=1e-12)
        assert spec.cap is None or value <= spec.cap
        assert spec.floor is None or value >= spec.floor
    assert all(b.points != 0 for b in r.breakdown)


@SETTINGS
@given(models(), leads("L0"), events_for("L0"), events_for("L0", max_events=5), st.integers(1, 10**6))
def test_events_after_at_change_nothing(model: ScoringModel, lead, events, later, offset_s) -> None:  # type: ignore[no-untyped-def]
    scorer = Scorer(model)
    future = [
        Event(e.lead_id, e.type, AT + timedelta(seconds=offset_s + i), e.properties, None) for i, e in enumerate(later)
    ]
    assert scorer.score(lead, events + future, AT) == scorer.score(lead, events, AT)


@SETTINGS
@given(models(), leads("L0"), events_for("L0"), st.randoms())
def test_duplicated_events_change_nothing(model: ScoringModel, lead, events, rnd) -> None:  # type: ignore[no-untyped-def]
    scorer = Scorer(model)
    copies = [rnd.choice(events) for _ in range(len(events) // 2)] if events else []
    # copies appended after the originals: the first seen still wins
    assert scorer.score(lead, events + copies, AT) == scorer.score(lead, events, AT)


@SETTINGS
@given(models(), populations())
def test_scoring_many_equals_scoring_each(model: ScoringModel, population) -> None:  # type: ignore[no-untyped-def]
    leads_, events = population
    scorer = Scorer(model)
    many = scorer.score_many(leads_, events, AT)
    assert many == [scorer.score(lead, events, AT) for lead in leads_]


@SETTINGS
@given(models(), leads("L0"), events_for("L0"), st.sampled_from([0, 3600, 86400 * 3, 86400 * 40]))
def test_next_change_is_never_late(model: ScoringModel, lead, events, step) -> None:  # type: ignore[no-untyped-def]
    """Between `at` and the announced next change, time alone changes nothing."""
    from leadscore.domain.timeutil import to_micros
    from leadscore.engine.timeline import Timeline

    scorer = Scorer(model)
    at_us = to_micros(AT)
    timeline = Timeline([e for e in events if e.lead_id == lead.id], until=at_us)
    nxt = scorer.next_change(lead, timeline, at_us, decay_step_us=10**18)
    probe = AT + timedelta(seconds=step)
    assume(nxt is None or to_micros(probe) < nxt)  # the probe must fall before the announced change
    # decaying scores change continuously (revisited every decay step): not this property
    assume(not any(r.decay is not None for r in model.rules if hasattr(r, "decay")))
    past = [e for e in events if e.timestamp <= AT]
    now, later = scorer.score(lead, past, AT), scorer.score(lead, past, probe)
    assert (later.score, later.labels, later.stage, later.breakdown) == (
        now.score,
        now.labels,
        now.stage,
        now.breakdown,
    )
