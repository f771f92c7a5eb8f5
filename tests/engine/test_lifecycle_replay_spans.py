"""The one-pass lifecycle replay (`replay_spans`) equals the step-by-step definition (`replay`).

The step-by-step replay evaluates every automatic transition at every event with the full score;
it stays in the code as the oracle. Generated models and events (the batch engine's strategies:
scores, counts, aggregates, `last` bounds, decay, limits, floors and caps, window edges, ties in time,
repeated ids), plus long random timelines where the skipping matters.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import to_micros
from leadscore.engine.errors import ScoringDataError
from leadscore.engine.scorer import Scorer
from leadscore.engine.timeline import Timeline
from leadscore.model import ModelError, validate_model
from tests.engine.helpers import model as build_model
from tests.support import strategies as support
from tests.support.strategies import AT
from tests.support.strategies import EDGE_DURATIONS as DURATIONS
from tests.support.strategies import EDGE_EXITS as EXITS
from tests.support.strategies import EDGE_STAGES as STAGES
from tests.support.strategies import EDGE_TYPES as TYPES
from tests.support.strategies import edge_busy_data as busy_data
from tests.support.strategies import edge_condition as condition
from tests.support.strategies import edge_event_condition as event_condition
from tests.support.strategies import edge_event_rule as event_rule
from tests.support.strategies import edge_lifecycle_models as lifecycle_models
from tests.support.strategies import edge_models as models

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AT_US = to_micros(AT)


def _same_replays(model_data: dict[str, Any] | Any, leads: list[Lead], events: list[Event], at_us: int) -> None:
    try:
        model = validate_model(model_data) if isinstance(model_data, dict) else model_data
    except ModelError:
        return
    scorer = Scorer(model)
    lc = scorer.lifecycle
    if lc is None or lc.spans is None:
        return
    for lead in leads:
        timeline = Timeline([e for e in events if e.lead_id == lead.id], until=at_us)

        def scores_at(t: int, tl: Timeline = timeline, attrs: Any = lead.attributes) -> dict[str, float]:
            return scorer.scores_at(attrs, tl, t)

        try:
            expected = lc.replay(lead.id, lead.attributes, timeline, at_us, scores_at)
        except ScoringDataError as exc:
            try:
                lc.replay_spans(lead.id, lead.attributes, timeline, at_us, scores_at)
            except ScoringDataError as again:
                assert again.detail == exc.detail
                continue
            raise AssertionError("replay_spans accepted data that replay refuses") from None
        assert lc.replay_spans(lead.id, lead.attributes, timeline, at_us, scores_at) == expected


@SETTINGS
@given(lifecycle_models(), busy_data())
def test_one_pass_replay_equals_the_definition_on_window_edges(model_data: Any, sample: Any) -> None:
    _same_replays(model_data, *sample, AT_US)


@SETTINGS
@given(models(), busy_data())
def test_one_pass_replay_equals_the_definition_on_any_model(model_data: Any, sample: Any) -> None:
    _same_replays(model_data, *sample, AT_US)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(lifecycle_models(), models()), busy_data(instants=2))
def test_one_pass_replay_equals_the_definition_at_shared_instants(model_data: Any, sample: Any) -> None:
    """Every event at one or two instants: the verdicts kept per (stage, span) and the automatic pass
    not run again at an instant where it found nothing to do change no stage and no move."""
    _same_replays(model_data, *sample, AT_US)


def test_events_at_one_instant_are_bounded_once() -> None:
    """Forty events at one instant and a threshold they never reach: the bounds are asked once for
    that instant and once at T, not at every probe of the gallop over the instant's events."""
    from leadscore.engine import span_conditions

    promotion = {"stages": ["lead", "mql"], "transitions": [{"to": "mql", "when": {"score": "total", "gte": 99}}]}
    scorer = Scorer(build_model([{"id": "v", "on": "view", "points": 1}], lifecycle=promotion))
    events = [Event("L0", "view", AT - timedelta(days=1), {}, f"e{k}") for k in range(40)]
    calls: list[tuple[int, int]] = []
    tri = span_conditions._Score.tri

    def counted(node: Any, view: Any, ta: int, tb: int) -> Any:
        calls.append((ta, tb))
        return tri(node, view, ta, tb)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(span_conditions._Score, "tri", counted)
        result = scorer.score_timeline(Lead("L0"), Timeline(events, until=AT_US), AT_US)
    assert result.stage == "lead"
    assert len(calls) == 2


@st.composite
def long_timelines(draw: Any) -> tuple[list[Lead], list[Event]]:
    """One lead with up to 400 events (drawn from a seed: hypothesis keeps lists short): bursts,
    quiet months, instants exactly one window length after another event, shared instants."""
    import random

    rnd = random.Random(draw(st.integers(0, 2**32)))
    lead = Lead("L0", draw(st.fixed_dictionaries({}, optional={"employees": st.integers(0, 300)})))
    windows = [1, 86_400, 30 * 86_400, 365 * 86_400]
    offsets: list[int] = []
    for _ in range(draw(st.integers(0, 400))):
        r = rnd.random()
        if offsets and r < 0.3:
            offsets.append(offsets[-1] - rnd.choice(windows) + rnd.choice([-1, 0, 0, 1]))  # a window edge
        elif offsets and r < 0.4:
            offsets.append(offsets[-1])  # the same instant
        elif offsets and r < 0.7:
            offsets.append(offsets[-1] - rnd.randint(1, 3 * 86_400))  # a burst
        else:
            offsets.append(rnd.randint(-86_400, 2 * 365 * 86_400))
    kinds = [{}, {"category": "shoes"}, {"category": "bags", "amount": 300.0}, {"amount": 2.5}, {"flag": True}]
    events = []
    for k, off in enumerate(offsets):
        typ = rnd.choice([*TYPES, "stage_set"] if rnd.random() < 0.02 else TYPES)
        p: dict[str, Any] = {"stage": rnd.choice(STAGES)} if typ == "stage_set" else dict(rnd.choice(kinds))
        events.append(Event("L0", typ, AT - timedelta(seconds=off), p, f"e{k}"))
    return [lead], events


@st.composite
def ladder_models(draw: Any) -> dict[str, Any]:
    """A promotion ladder whose thresholds long timelines cross part-way: scores of windowed,
    decayed and limited rules, windowed counts, `last` bounds; exits and a way back."""
    dims = ["engagement", "fit"]
    rules = [draw(event_rule(i, draw(st.sampled_from(dims)))) for i in range(draw(st.integers(1, 5)))]
    decay = draw(st.sampled_from([{"half_life": "30d"}, {"half_life": "1d"}, {"linear": "365d"}, {"linear": "30d"}]))
    on = draw(st.sampled_from(TYPES[:3]))
    rules.append({"id": "d", "dimension": "engagement", "on": on, "points": 4, "decay": decay})
    points = draw(st.sampled_from([5, -5]))
    rules.append({"id": "c", "dimension": "fit", "when": draw(condition(None)), "points": points})
    score = st.builds(
        lambda d, k, x: {"score": d, k: x},
        st.sampled_from([*dims, "total"]),
        st.sampled_from(["gte", "gt", "lt", "lte"]),
        st.integers(-20, 120),
    )
    count = st.builds(
        lambda t, w, k, x: {"count": t, "within": w, k: x},
        st.sampled_from(TYPES[:3]),
        st.sampled_from(DURATIONS),
        st.sampled_from(["gte", "lte", "eq"]),
        st.integers(0, 12),
    )
    leaf = st.one_of(score, count, event_condition())
    cond = st.one_of(leaf, st.builds(lambda a, b: {"all": [a, b]}, leaf, leaf), st.builds(lambda a: {"not": a}, leaf))
    trs = [{"to": to, "when": draw(cond)} for to in ["mql", "sql", "customer"][: draw(st.integers(1, 3))]]
    trs += [{"to": "lost", "on": "lost"}, {"to": "recycled", "on": "won", "from": ["lost"]}]
    trs.append({"to": "lead", "from": ["recycled"], "when": draw(cond)})
    return {
        "format": 1,
        "name": "ladder",
        "dimensions": {"engagement": {"cap": draw(st.sampled_from([50, 500]))}, "fit": {"floor": -10}},
        "rules": rules,
        "lifecycle": {"stages": STAGES, "exits": EXITS, "transitions": trs},
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(ladder_models(), lifecycle_models()), long_timelines())
def test_one_pass_replay_equals_the_definition_on_long_timelines(model_data: Any, sample: Any) -> None:
    _same_replays(model_data, *sample, AT_US)


@SETTINGS
@given(support.models(), support.leads("L0"), support.events_for("L0", max_events=60))
def test_one_pass_replay_equals_the_definition_on_the_shared_strategies(model: Any, lead: Lead, events: Any) -> None:
    _same_replays(model, [lead], events, to_micros(support.AT))


@pytest.mark.parametrize("decay", [{"half_life": "30d"}, {"half_life": "1s"}, {"linear": "90d"}])
@pytest.mark.parametrize("threshold", [15, 35, 60])
def test_decayed_scores_crossing_a_threshold_between_events(decay: dict[str, str], threshold: int) -> None:
    """Clicks every few days raise a decayed score past the threshold in the middle of a quiet run."""
    model = validate_model(
        {
            "format": 1,
            "name": "decay",
            "rules": [{"id": "click", "on": "click", "points": 10, "decay": decay}],
            "lifecycle": {
                "stages": ["lead", "mql"],
                "exits": ["lost"],
                "transitions": [
                    {"to": "mql", "when": {"score": "total", "gte": threshold}},
                    {"to": "lost", "on": "lost"},
                    {"to": "lead", "from": ["lost"], "on": "won"},
                ],
            },
        }
    )
    events = [Event("L0", "view", AT - timedelta(days=200 - d), {}, f"v{d}") for d in range(0, 200, 1)]
    events += [Event("L0", "click", AT - timedelta(days=150 - 3 * d), {}, f"c{d}") for d in range(40)]
    events += [Event("L0", "lost", AT - timedelta(days=60), {}, "x")]
    events += [Event("L0", "won", AT - timedelta(days=59), {}, "y")]
    _same_replays(model, [Lead("L0")], events, AT_US)
