"""The span bounds of a lead's scores (`engine.spans`): the bounds a lead's view keeps for every span
equal the bounds computed at each span. That the one-pass replay built on them equals the step-by-step
one: tests/engine/test_lifecycle_replay_spans.py."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.domain.timeutil import to_micros
from leadscore.engine.spans import SpanModel
from leadscore.engine.timeline import Timeline
from leadscore.model import ModelError, validate_model
from tests.support.strategies import AT
from tests.support.strategies import edge_busy_data as busy_data
from tests.support.strategies import edge_models as models

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AT_US = to_micros(AT)


@SETTINGS
@given(models(), busy_data(), st.data())
def test_bounds_kept_per_lead_equal_the_bounds_computed_at_every_span(model_data: Any, sample: Any, data: Any) -> None:
    """A rule whose bounds a lead's view keeps (attribute conditions, event rules without a matching
    event) has those bounds over every span: keeping them changes no score bound."""
    try:
        model = validate_model(model_data)
    except ModelError:
        return
    spans = SpanModel(model)
    leads, events = sample
    for lead in leads:
        timeline = Timeline([e for e in events if e.lead_id == lead.id], until=AT_US)
        view = spans.view(lead.attributes, timeline)
        times = sorted({AT_US, *(e.ts for e in timeline.events)})
        ta = data.draw(st.sampled_from(times))
        tb = data.draw(st.sampled_from([t for t in times if t >= ta]))
        assert len(view.kept) + len(view._varying) == len(spans.rules)
        for rule, matched, fixed in view.kept:
            assert view._rule(rule, matched, ta, tb) == fixed
