"""A lifecycle under a model with a trained dimension: the one-pass replay (span bounds, the trained
dimension unknown over a span) equals the step-by-step definition, and asks the trained model less."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.domain import Event, Lead
from leadscore.domain.timeutil import to_micros
from leadscore.engine import Scorer
from leadscore.engine.predictors import Prediction
from leadscore.engine.timeline import Timeline
from leadscore.generate import sample
from leadscore.model import validate_model
from leadscore.model.loader import load_model
from tests.support.strategies import AT

AT_US = to_micros(AT)
DAY = timedelta(days=1)
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "b2b-saas-predictive"


class VisitShare:
    """A deterministic stand-in for a trained model: the share of the lead's events that are visits.
    Counts the times it is asked."""

    version = "v1"

    def __init__(self) -> None:
        self.asked = 0

    def predict_one(self, attributes: Mapping[str, Any], timeline: Timeline, at_us: int, top: int) -> Prediction:
        self.asked += 1
        past = [e for e in timeline.events if e.ts <= at_us]
        return Prediction(sum(e.type == "visit" for e in past) / len(past) if past else 0.0)


def lifecycle_model(total: int, engagement: int, cap: int | None) -> Any:
    propensity: dict[str, Any] = {"predictive": {"artifact": "m.lsm", "scale": 100}}
    if cap is not None:
        propensity["cap"] = cap
    return validate_model(
        {
            "format": 1,
            "name": "p",
            "dimensions": {"engagement": {"floor": 0}, "propensity": propensity},
            "rules": [
                {"id": "visit", "dimension": "engagement", "on": "visit", "points": 5, "decay": {"linear": "10d"}},
                {"id": "demo", "dimension": "engagement", "on": "demo", "points": 30, "within": "20d"},
            ],
            "lifecycle": {
                "stages": ["lead", "mql", "sql"],
                "exits": ["recycled"],
                "transitions": [
                    {
                        "to": "mql",
                        "when": {"all": [{"score": "total", "gte": total}, {"score": "engagement", "gte": engagement}]},
                    },
                    {"to": "sql", "on": "accepted"},
                    {"to": "recycled", "on": "rejected"},
                    {"to": "lead", "from": "recycled", "when": {"score": "propensity", "lt": 30}},
                ],
            },
        }
    )


def replays(scorer: Scorer, lead: Lead, events: list[Event], at_us: int) -> tuple[Any, Any]:
    timeline = Timeline(events, until=at_us)

    def scores_at(t: int) -> dict[str, float]:
        return scorer.scores_at(lead.attributes, timeline, t)

    lc = scorer.lifecycle
    assert lc is not None and lc.spans is not None  # a trained dimension no longer turns the spans off
    definition = lc.replay(lead.id, lead.attributes, timeline, at_us, scores_at)
    return lc.replay_spans(lead.id, lead.attributes, timeline, at_us, scores_at), definition


timelines = st.lists(
    st.tuples(
        st.sampled_from(["visit", "visit", "visit", "demo", "accepted", "rejected", "other"]), st.integers(0, 200)
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines, st.integers(0, 150), st.integers(0, 60), st.one_of(st.none(), st.integers(0, 100)))
def test_one_pass_replay_equals_the_definition_with_a_trained_dimension(
    raw: list[tuple[str, int]], total: int, engagement: int, cap: int | None
) -> None:
    scorer = Scorer(lifecycle_model(total, engagement, cap), {"propensity": VisitShare()})
    start = AT - 200 * DAY
    events = sorted(
        (
            Event.of("L", kind, start + day * DAY + i * timedelta(seconds=1), id=f"e{i}")
            for i, (kind, day) in enumerate(raw)
        ),
        key=lambda e: e.ts,
    )
    fast, definition = replays(scorer, Lead("L"), events, AT_US)
    assert fast == definition


def test_the_trained_model_is_asked_only_where_the_other_conditions_leave_it_open() -> None:
    """A long quiet timeline: engagement never reaches the MQL threshold, so no question to the model."""
    predictor = VisitShare()
    scorer = Scorer(lifecycle_model(50, 1000, None), {"propensity": predictor})
    events = [Event.of("L", "visit", AT - (300 - d) * DAY, id=f"e{d}") for d in range(300)]
    fast, definition = replays(scorer, Lead("L"), events, AT_US)
    assert fast == definition
    predictor.asked = 0
    scorer.lifecycle.replay_spans(  # type: ignore[union-attr]
        "L", {}, Timeline(events, until=AT_US), AT_US, lambda t: scorer.scores_at({}, Timeline(events, until=AT_US), t)
    )
    assert predictor.asked == 0


def test_the_predictive_example_replays_as_defined_on_generated_leads() -> None:
    """The example's trained artifact on a year of generated B2B leads."""
    from leadscore.predictive.runtime import load_predictors

    model = load_model(EXAMPLE / "model.yaml")
    scorer = Scorer(model, load_predictors(model, EXAMPLE))
    end = AT_US
    leads, events = sample("b2b", 40, 3, start=AT - timedelta(days=365), end=AT)
    by_lead: dict[str, list[Event]] = {}
    for e in sorted(events, key=lambda e: e.ts):
        by_lead.setdefault(e.lead_id, []).append(e)
    moved = 0
    for lead in leads:
        fast, definition = replays(scorer, lead, by_lead.get(lead.id, []), end)
        assert fast == definition, lead.id
        moved += len(definition[1]) > 1
    assert moved  # some leads move, so the comparison covers transitions


def test_the_trained_model_is_evaluated_once_at_the_results_time() -> None:
    """The score at the result's time asks for the factors too, so the result's predictions are the
    predictor's last answer (one evaluation of the model, not two), and they agree with the score."""
    from leadscore.predictive.runtime import load_predictors

    model = load_model(EXAMPLE / "model.yaml")
    predictors = load_predictors(model, EXAMPLE)
    scorer = Scorer(model, predictors)
    (predictor,) = predictors.values()
    calls = []
    evaluate = predictor.predict_many

    def counted(cases: Any, top: int = 3) -> Any:
        calls.append((len(cases), top))
        return evaluate(cases, top)

    predictor.predict_many = counted  # type: ignore[method-assign]
    result = scorer.score_timeline(Lead("new", {"employees": 150}), Timeline([], until=AT_US), AT_US)
    assert calls == [(1, 3)]
    probability = result.extras["predictions"]["propensity"]["probability"]
    assert result.dimensions["propensity"] == probability * 100
