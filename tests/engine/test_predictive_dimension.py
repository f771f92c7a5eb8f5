"""A predictive dimension: probability x scale in the breakdown, factors in the result, version includes it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pytest

from leadscore.domain import Lead
from leadscore.engine import Scorer
from leadscore.engine.predictors import Factor, Prediction
from leadscore.engine.timeline import Timeline
from leadscore.model import ModelError, validate_model
from tests.engine.helpers import AT, ev


class VisitShare:
    """A tiny deterministic predictor: the share of the lead's events that are page views."""

    def __init__(self, version: str) -> None:
        self.version = version

    def predict_one(self, attributes: Mapping[str, Any], timeline: Timeline, at_us: int, top: int) -> Prediction:
        past = [e for e in timeline.events if e.ts <= at_us]
        p = sum(e.type == "page_view" for e in past) / len(past) if past else 0.0
        return Prediction(p, (Factor(f"{len(past)} events", p),)[:top])


SPEC = {
    "format": 1,
    "name": "p",
    "dimensions": {"engagement": {}, "propensity": {"predictive": {"artifact": "m.lsm", "scale": 100}, "cap": 60}},
    "rules": [{"id": "visit", "dimension": "engagement", "on": "page_view", "points": 1}],
    "labels": {"intent": [{"label": "high", "when": {"score": "propensity", "gte": 50}}, {"label": "low"}]},
}


def test_prediction_is_a_dimension_with_factors() -> None:
    scorer = Scorer(validate_model(SPEC), {"propensity": VisitShare("v1")})
    r = scorer.score(
        Lead("l1"), [ev("page_view", "2026-05-01"), ev("page_view", "2026-05-02"), ev("x", "2026-05-03")], AT
    )
    entries = {b.rule: b.points for b in r.breakdown}
    assert entries["predictive:propensity"] == pytest.approx(200 / 3)  # 2 of 3 events are visits
    assert r.dimensions["propensity"] == 60  # the dimension's cap applies as to any other
    assert r.labels["intent"] == "high"
    assert math.fsum(b.points for b in r.breakdown) == r.score
    assert r.extras["predictions"]["propensity"]["top_positive"][0]["factor"] == "3 events"


def test_version_changes_with_the_artifact_and_rules_cannot_target_it() -> None:
    model = validate_model(SPEC)
    assert (
        Scorer(model, {"propensity": VisitShare("v1")}).version
        != Scorer(model, {"propensity": VisitShare("v2")}).version
    )
    with pytest.raises(ValueError, match="predictive dimension"):
        Scorer(model)
    bad = {**SPEC, "rules": [{"id": "x", "dimension": "propensity", "on": "a", "points": 1}]}
    with pytest.raises(ModelError, match="rules cannot add to it"):
        validate_model(bad)
