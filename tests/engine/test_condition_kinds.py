"""Every kind of the condition registry in the pure engine's handlers beyond the scorer's own
(`compile.py`): the span bounds of the one-pass lifecycle replay (`span_conditions.py`) and the horizon, the next
instant time alone can change a result (`horizon.py`). The kinds come from the registry
(`tests/support/condition_kinds.py`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leadscore.domain.timeutil import to_micros
from leadscore.engine.scorer import Scorer
from leadscore.engine.timeline import Timeline
from tests.support.condition_kinds import AT, data, kinds, models_for

AT_US = to_micros(AT)
LATER_US = to_micros(AT + timedelta(days=400))


@pytest.mark.parametrize("kind", [k for k in kinds() if "lifecycle" in models_for(k)])
def test_the_one_pass_replay_equals_the_definition(kind: str) -> None:
    scorer = Scorer(models_for(kind)["lifecycle"])
    lc = scorer.lifecycle
    assert lc is not None and lc.spans is not None
    leads, events = data()
    for lead in leads:
        timeline = Timeline([e for e in events if e.lead_id == lead.id], until=AT_US)

        def scores_at(t: int, tl: Timeline = timeline, attrs: object = lead.attributes) -> dict[str, float]:
            return scorer.scores_at(attrs, tl, t)  # type: ignore[arg-type]

        expected = lc.replay(lead.id, lead.attributes, timeline, AT_US, scores_at)
        assert lc.replay_spans(lead.id, lead.attributes, timeline, AT_US, scores_at) == expected, lead.id


def _sample_points(scorer: Scorer, lead: object, timeline: Timeline, at: int) -> float:
    result = scorer.score_timeline(lead, timeline, at)  # type: ignore[arg-type]
    return sum(b.points for b in result.breakdown if b.rule == "sample")


def _in_rules(kind: str) -> bool:
    return any(r.id == "sample" for r in models_for(kind)["results"].rules)


@pytest.mark.parametrize("kind", [k for k in kinds() if _in_rules(k)])
def test_the_horizon_is_never_late_for_the_sample(kind: str) -> None:
    """A condition rule holding the sample keeps its points until the horizon (`next_change`); the kinds
    a rule may not hold (`score`, `label`, `stage`) follow the results, whose horizon the rules make."""
    model = models_for(kind)["results"]
    scorer = Scorer(model)
    leads, events = data()
    changed = 0
    for lead in leads:
        mine = [e for e in events if e.lead_id == lead.id]
        timeline = Timeline(mine, until=AT_US)
        now = _sample_points(scorer, lead, timeline, AT_US)
        nxt = scorer.next_change(lead, timeline, AT_US)
        before = (nxt - 1) if nxt is not None else LATER_US
        assert _sample_points(scorer, lead, Timeline(mine, until=before), before) == now, lead.id
        if nxt is not None:
            later = _sample_points(scorer, lead, Timeline(mine, until=LATER_US), LATER_US)
            changed += later != now
    if kind in ("count", "none", "last", "aggregate"):
        assert changed, "time changes the sample for some lead"
