"""The score_changed tests over a part's arrays (`score_hits`) against the per-lead test of
`detect_transitions`: the same leads fire, and a quiet lead's detection skips them and finds the rest."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.engine.values import compile_predicate
from leadscore.model import parse_model
from leadscore.model.predicates import Predicate
from leadscore.triggers import score_hits

NUMBERS = st.one_of(  # (a model's numbers lie within 2 ** 53, `domain.numbers`)
    st.integers(-(2**53), 2**53),
    st.integers(-100, 100),
    st.floats(-(2.0**53), 2.0**53),
    st.floats(-100, 100),
)
ARGS = st.one_of(NUMBERS, st.booleans(), st.text(max_size=3))
PREDICATES = st.one_of(
    st.tuples(st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"]), ARGS).map(lambda t: {t[0]: t[1]}),
    st.tuples(NUMBERS, NUMBERS).map(lambda t: {"between": list(t)}),
    st.tuples(st.sampled_from(["in", "not_in"]), st.lists(ARGS, min_size=1, max_size=3)).map(lambda t: {t[0]: t[1]}),
    st.tuples(st.sampled_from(["gte", "lt"]), NUMBERS, st.sampled_from(["lte", "ne"]), NUMBERS).map(
        lambda t: {t[0]: t[1], t[2]: t[3]}
    ),
    st.booleans().map(lambda b: {"exists": b, "gte": 1}),
    st.just({"exists": False}),
    st.just({"contains": "1"}),
)
DELTAS = st.lists(
    st.one_of(NUMBERS.map(float), st.floats(), st.sampled_from([0.0, -0.0, 60.0, 59.999999, 2.0**53 + 2])), max_size=30
)


@settings(max_examples=300, deadline=None)
@given(pred=PREDICATES, deltas=DELTAS)
def test_by_holds_is_the_compiled_predicate_on_each_difference(pred: dict[str, object], deltas: list[float]) -> None:
    by = Predicate.model_validate(pred)
    test = compile_predicate(by)
    got = score_hits.by_holds(by, np.asarray(deltas, dtype=np.float64))
    assert got.tolist() == [test(d) for d in deltas]


def test_by_holds_hand_cases() -> None:
    d = np.asarray([59.0, 60.0, 61.5, math.nan, -math.inf, math.inf])
    assert score_hits.by_holds(Predicate.model_validate({"gte": 60}), d).tolist() == [0, 1, 1, 0, 0, 1]
    assert score_hits.by_holds(Predicate.model_validate({"ne": 60}), d).tolist() == [1, 0, 1, 1, 1, 1]
    assert score_hits.by_holds(Predicate.model_validate({"between": [60, 61.5]}), d).tolist() == [0, 1, 1, 0, 0, 0]
    # a bool or a text never compares with a number
    assert score_hits.by_holds(Predicate.model_validate({"gte": True}), d).tolist() == [0] * 6
    assert score_hits.by_holds(Predicate.model_validate({"in": ["60", 60]}), d).tolist() == [0, 1, 0, 0, 0, 0]


# two score_changed triggers of two windows, and a trigger of another kind
MODEL = parse_model(
    """
triggers:
  - {id: up, on: score_changed, by: {gte: 30}, within: 1d}
  - {id: down, on: score_changed, by: {lte: -20}, within: 7d}
  - {id: other, on: label_changed, set: t}
labels:
  t:
    - {label: a, when: {score: total, gte: 10}}
rules: [{id: visit, on: page_view, points: 10}]
name: hits
format: 1
"""
)
DAY, WEEK = 86_400_000_000, 7 * 86_400_000_000
SCORES = st.one_of(st.none(), st.floats(-100, 100), st.sampled_from([0.0, 30.0, -20.0]))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(SCORES, SCORES, SCORES), max_size=20))
def test_quiet_where_no_score_trigger_holds(rows: list[tuple[float | None, float | None, float | None]]) -> None:
    """Quiet exactly where every score is there and no trigger's `by` holds on its window's difference."""
    scores = [r[0] for r in rows]
    got = score_hits.quiet(MODEL, scores, {DAY: [r[1] for r in rows], WEEK: [r[2] for r in rows]})
    up, down = (compile_predicate(t.by) for t in MODEL.triggers[:2] if t.by is not None)
    want = [
        None not in r and not up(r[0] - r[1]) and not down(r[0] - r[2])  # type: ignore[operator]
        for r in rows
    ]
    assert got.tolist() == want


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(0, 30), before=st.floats(-80, 120), first=st.booleans())
def test_a_quiet_leads_detection_is_the_whole_detection(seed: int, n: int, before: float, first: bool) -> None:
    """For a lead no score trigger holds for, `detect_transitions(..., scores_quiet=True)` gives the
    transitions the whole detection gives (none of them a score_changed one), in order, with their keys."""
    import random

    from leadscore.domain.events import Event
    from leadscore.domain.lead import Lead
    from leadscore.engine import score
    from leadscore.triggers.firings import detect_transitions
    from tests.triggers.test_firings import MODEL as TEXT

    model = parse_model(TEXT)
    rnd = random.Random(seed)
    types = ["page_view", "demo_request", "sales_accepted", "sales_rejected", "deal_won"]
    events = [
        Event.of("l1", rnd.choice(types), f"2026-03-{1 + rnd.randrange(27):02d}T{rnd.randrange(24):02d}:00:00Z")
        for _ in range(n)
    ]
    lead = Lead("l1")
    previous = None if first else score(model, lead, events[: n // 2], "2026-03-10T00:00:00Z")
    current = score(model, lead, events, "2026-03-29T00:00:00Z")
    befores = {t.within.micros: [before] for t in model.triggers if t.within is not None}
    quiet = bool(score_hits.quiet(model, [current.score], befores)[0])
    whole = detect_transitions(model, previous, current, score_before_window=lambda t: before)
    assert quiet == (not any(f.kind == "score_changed" for f in whole))
    if quiet:
        assert detect_transitions(model, previous, current, scores_quiet=True) == whole
