"""Each condition kind three-valued over a span (`engine.span_conditions`), hand-computed: True or False
only where it holds or fails at every time of the span, None where it changes inside it. Against the
step-by-step replay on generated models: tests/engine/test_lifecycle_replay_spans.py."""

from __future__ import annotations

from typing import Any

from leadscore.domain.events import Event
from leadscore.engine.span_conditions import node
from leadscore.engine.spans import SpanModel
from leadscore.engine.timeline import Timeline
from leadscore.model.conditions import Condition
from tests.engine.helpers import model as build_model

DAY = 86_400_000_000
WHEN = [
    {"count": "view", "gte": 2, "within": "1d"},
    {"none": "view", "within": "1d"},
    {"last": "view", "older_than": "1d"},
    {"not": {"count": "view", "gte": 2, "within": "1d"}},
    {"score": "total", "gte": 3},
    {"attribute": "employees", "gte": 100},
]
MODEL = build_model(
    [{"id": "v", "on": "view", "points": 1}],
    lifecycle={"stages": ["lead", "mql"], "transitions": [{"to": "mql", "when": w} for w in WHEN]},
)
assert MODEL.lifecycle is not None
CONDS: list[Condition] = [tr.when for tr in MODEL.lifecycle.transitions if tr.when is not None]


def _tri(k: int, ta: float, tb: float, **attributes: Any) -> bool | None:
    """Condition k over [ta, tb], in days after the first of two views (the second at day 0.5)."""
    events = [
        Event.of("l1", "view", "2026-01-11T00:00:00Z", id="a"),
        Event.of("l1", "view", "2026-01-11T12:00:00Z", id="b"),
    ]
    start = events[0].ts
    spans = SpanModel(MODEL)
    view = spans.view(attributes, Timeline(events, until=start + 10 * DAY))
    return spans.node(CONDS[k]).tri(view, start + int(ta * DAY), start + int(tb * DAY))


def test_counts_and_absence_over_a_span() -> None:
    assert _tri(0, 0.5, 0.9) is True  # both views within the day throughout
    assert _tri(0, 0.0, 0.4) is False  # one view at most
    assert _tri(0, 0.4, 0.6) is None  # the second arrives inside the span
    assert _tri(3, 0.5, 0.9) is False and _tri(3, 0.4, 0.6) is None  # not: Kleene's
    assert _tri(1, -1.0, -0.5) is True and _tri(1, 0.0, 0.9) is False and _tri(1, 1.0, 2.0) is None


def test_the_latest_event_and_its_age_over_a_span() -> None:
    assert _tri(2, 1.6, 1.9) is True  # the latest (day 0.5) more than a day old throughout
    assert _tri(2, 0.6, 1.4) is False
    assert _tri(2, 1.4, 1.6) is None  # it turns a day old inside the span
    assert _tri(2, -1.0, -0.5) is False  # no view yet


def test_scores_read_their_bounds_and_attributes_are_constant() -> None:
    assert _tri(4, 0.0, 1.0) is False  # two points at most, below 3
    assert _tri(5, 0.0, 1.0, employees=500) is True and _tri(5, 0.0, 1.0) is False
    assert node(CONDS[5], SpanModel(MODEL).dimension_index).constant


def test_the_handler_takes_the_models_dimensions() -> None:
    """`SpanModel.node` is `node` with the model's dimensions: a score condition reads `total` there."""
    calls: list[str] = []

    def index(name: str) -> int | None:
        calls.append(name)
        return None

    node(CONDS[4], index)
    assert calls == ["total"]
