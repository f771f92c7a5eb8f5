"""The arithmetic of the span bounds (`engine.span_bounds`): a window's counts over a span, whether an
event enters or leaves it, Kleene's all / any, a predicate over a number known within an interval."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.engine.span_bounds import changes_within, count_range, kleene_and, kleene_or, number_tri
from leadscore.engine.timeline import Matched
from leadscore.model.predicates import Predicate

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EVENTS = Matched(ts=[10, 20, 20, 35])


@pytest.mark.parametrize(
    ("within", "ta", "tb", "expected"),
    [
        (None, 0, 5, (0, 0)),
        (None, 10, 20, (1, 3)),  # the peers at 20 all arrive together
        (None, 20, 40, (3, 4)),
        (10, 20, 20, (2, 2)),  # (10, 20]: the event at 10 is out on the edge
        (10, 20, 35, (0, 3)),  # at 35 only the event at 35 is in; at 20 the two at 20
        (100, 0, 40, (0, 4)),
    ],
)
def test_count_range_is_the_least_and_most_in_the_window(
    within: int | None, ta: int, tb: int, expected: tuple[int, int]
) -> None:
    """Bounds, not the exact range: at (10, 20, 35) at most two events are in at once, the bound says 3."""
    assert count_range(EVENTS, within, ta, tb) == expected
    least, most = expected
    counts = [sum(1 for t in EVENTS.ts if t <= x and (within is None or t > x - within)) for x in range(ta, tb + 1)]
    assert least <= min(counts) and max(counts) <= most


def test_an_event_entering_or_leaving_the_window_changes_it() -> None:
    assert not changes_within(EVENTS, None, 20, 34)
    assert changes_within(EVENTS, None, 20, 35)  # the event at 35 enters
    assert changes_within(EVENTS, 10, 25, 30)  # the two at 20 leave at 30
    assert not changes_within(EVENTS, 10, 36, 44)


def test_kleene_all_and_any() -> None:
    assert kleene_and([True, None]) is None and kleene_and([False, None]) is False and kleene_and([]) is True
    assert kleene_or([False, None]) is None and kleene_or([True, None]) is True and kleene_or([]) is False


@SETTINGS
@given(
    st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in"]),
    st.sampled_from([-1, 0, 2.5, 10, "x", True]),
    st.floats(-20, 20),
    st.floats(0, 20),
    st.floats(0, 1),
)
def test_number_bounds_never_contradict_the_predicate(key: str, arg: Any, lo: float, width: float, pos: float) -> None:
    """Whatever number in [lo, hi] the exact value is, a decided bound agrees with the predicate."""
    from leadscore.engine.values import compile_predicate

    value = {"between": [arg, 12], "in": [arg, 3], "not_in": [arg, 3]}.get(key, arg)
    pred = Predicate.model_validate({key: value})
    hi = lo + width
    decided = number_tri(pred, lo, hi, 0.0)
    x = lo + (hi - lo) * pos
    if decided is not None and lo <= x <= hi:
        assert compile_predicate(pred)(x) == decided
    assert number_tri(pred, x, x, 0.0) in (compile_predicate(pred)(x), None)
