"""Results survive storage: `Result.from_dict(r.to_dict(history=True)) == r`."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from leadscore.domain import Result
from leadscore.engine import Scorer
from leadscore.model import ScoringModel
from tests.support.profiles import examples
from tests.support.strategies import AT, events_for, leads, models


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(models(), leads("L0"), events_for("L0"))
def test_result_round_trips_through_its_dict(model: ScoringModel, lead, events) -> None:  # type: ignore[no-untyped-def]
    r = Scorer(model).score(lead, events, AT)
    assert Result.from_dict(r.to_dict(history=True)) == r
