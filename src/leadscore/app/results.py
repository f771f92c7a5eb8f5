"""Typed results of the service: one shape for the CLI's JSON, the HTTP API and the dashboard.

Times are ISO 8601 text in UTC (`2026-05-30T00:00:00Z`), as every other leadscore output.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from leadscore.domain import Event, Result
from leadscore.domain.timeutil import from_micros, to_iso


class Shape(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class Contribution(Shape):
    """One rule's points (after caps, decay and floors) or a `cap:` / `floor:` adjustment."""

    rule: str
    dimension: str
    points: float
    events: int | None = Field(default=None, description="events that matched an event rule")


class Playbook(Shape):
    name: str | None = None
    action: str | None = None
    priority: int | None = None
    content: list[str] = []


class ScoredLead(Shape):
    """A lead's stored result: score, dimensions, labels, stage, breakdown and next best action."""

    lead_id: str
    at: str = Field(description="evaluation time")
    model: str
    model_version: str
    score: float
    dimensions: dict[str, float]
    labels: dict[str, str | None]
    stage: str | None = None
    breakdown: list[Contribution] = []
    playbook: Playbook | None = None

    @classmethod
    def of(cls, result: Result) -> ScoredLead:
        return cls(
            lead_id=result.lead_id,
            at=to_iso(result.at),
            model=result.model,
            model_version=result.model_version,
            score=result.score,
            dimensions=dict(result.dimensions),
            labels=dict(result.labels),
            stage=result.stage,
            breakdown=[Contribution(**b.to_dict()) for b in result.breakdown],
            playbook=Playbook(**result.playbook.to_dict()) if result.playbook else None,
        )


class EventView(Shape):
    id: str | None = None
    lead_id: str
    type: str
    timestamp: str
    properties: dict[str, Any] = {}

    @classmethod
    def of(cls, event: Event) -> EventView:
        data = event.to_dict()
        return cls(
            id=event.id,
            lead_id=event.lead_id,
            type=event.type,
            timestamp=data["timestamp"],
            properties={k: data[k] for k in event.properties},
        )


class ScorePoint(Shape):
    """One change of a lead's score, with the model version and the cause."""

    at: str
    score: float
    delta: float
    dimensions: dict[str, float]
    model_version: str
    cause: str


class StageMove(Shape):
    at: str
    from_: str | None = Field(default=None, alias="from")
    to: str
    cause: str
    event_id: str | None = None
    model_version: str


class AttributeChange(Shape):
    at: str
    changes: dict[str, list[Any]] = Field(description="attribute: [old, new]; null means absent")
    source: str


class History(Shape):
    lead_id: str
    score_history: list[ScorePoint]
    stage_history: list[StageMove]


class Explanation(Shape):
    """The stored result (absent before a lead is first scored) with what is behind it."""

    lead_id: str
    at: str | None = None
    model: str | None = None
    model_version: str | None = None
    score: float | None = None
    dimensions: dict[str, float] = {}
    labels: dict[str, str | None] = {}
    stage: str | None = None
    breakdown: list[Contribution] = []
    playbook: Playbook | None = None
    attributes: dict[str, Any] = {}
    account: str | None = None
    events: list[EventView] = []
    score_history: list[ScorePoint] = []
    stage_history: list[StageMove] = []


class Account(Shape):
    account: str
    leads: int
    score: float
    dimensions: dict[str, float]
    labels: dict[str, str | None]


class LeadRecord(Shape):
    id: str
    attributes: dict[str, Any]
    account: str | None = None
    created_at: str
    updated_at: str


class LeadView(Shape):
    """A lead with its stored result; `current` says whether the result holds at the time of asking."""

    id: str
    attributes: dict[str, Any]
    account: str | None = None
    created_at: str
    updated_at: str
    result: ScoredLead | None = None
    current: bool = Field(
        description="true when the stored result holds now; false while events acknowledged for the lead wait"
        " for rescoring (`pending`), or when a time-driven change (decay, a window closing) is due and the next"
        " refresh has not applied it yet"
    )
    pending: bool = Field(
        default=False,
        description="true while events acknowledged for the lead are stored but not yet in its result (they"
        " are rescored within about a second under normal load)",
    )
    next_change_at: str | None = Field(default=None, description="when time alone next changes the result")


class ExportedEvent(EventView):
    received_lead_id: str
    ingested_at: str


class Alias(Shape):
    alias: str
    cause: str


class DeliveryRecord(Shape):
    """One attempt to deliver a trigger message to its destination."""

    attempt: int
    at: str
    ok: bool
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None


class TriggerRecord(Shape):
    trigger: str
    destination: str | None = None
    status: str
    payload: dict[str, Any]
    deliveries: list[DeliveryRecord] = []


class Export(Shape):
    """Everything held about a lead (right of access)."""

    lead: LeadRecord
    result: dict[str, Any] | None = Field(description="the result with its full stage replay")
    events: list[ExportedEvent]
    aliases: list[Alias]
    attribute_history: list[AttributeChange]
    score_history: list[ScorePoint]
    stage_history: list[StageMove]
    triggers: list[TriggerRecord]


def iso(us: int | None) -> str | None:
    return to_iso(from_micros(us)) if us is not None else None
