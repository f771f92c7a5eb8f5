"""Small builders so that each test reads like the model file it exercises."""

from __future__ import annotations

from typing import Any

from leadscore.domain import Event, Lead, Result
from leadscore.engine import score
from leadscore.model import ScoringModel, validate_model

AT = "2026-06-01T00:00:00Z"


def model(rules: list[dict[str, Any]], **sections: Any) -> ScoringModel:
    return validate_model({"format": 1, "name": "t", "rules": rules, **sections})


def ev(type_: str, ts: str, lead: str = "l1", id: str | None = None, **props: Any) -> Event:
    return Event.of(lead, type_, ts, id=id, **props)


def run(m: ScoringModel, events: list[Event] = (), at: str = AT, **attributes: Any) -> Result:  # type: ignore[assignment]
    return score(m, Lead("l1", attributes), events, at)


def points(result: Result) -> dict[str, float]:
    return {b.rule: b.points for b in result.breakdown}
