"""Request and response shapes of the API (the service's typed results are reused as they are).

Requests are strict: unknown fields are refused, and no value is coerced (`"5"` is not a number,
`1` is not a string). Timestamps are ISO 8601 text with a time zone or a date.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from leadscore.domain import Event, Lead
from leadscore.domain.timeutil import parse_timestamp


def no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("text holds a NUL character")
    return text


Id = Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(no_nul)]
TYPE_NAME_CHARS = r"[A-Za-z0-9_.:\-]+"  # an event type's text (also `bulk_body`'s check of a bulk body's types)
TypeName = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=rf"^{TYPE_NAME_CHARS}$")]
MAX_DEPTH = 32


def shallow(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse what no store can keep as JSON: documents nested deeper than MAX_DEPTH (checked without
    recursion; deeper ones would exhaust whatever reads them later), NaN and infinities, and text with
    NUL characters (PostgreSQL refuses both)."""
    for key, inner in value.items():  # the usual object, flat with text values, settled without the walk
        if "\x00" in key or type(inner) is not str or "\x00" in inner:
            break
    else:
        return value
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key:
                    raise ValueError(f"key {key!r} holds a NUL character")
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{item} is not a JSON number")
        elif isinstance(item, str) and "\x00" in item:
            raise ValueError("text holds a NUL character")
    return value


# JSON values as stored: text, numbers, booleans, lists and objects; nulls mean "absent" and are dropped.
Properties = Annotated[
    dict[Annotated[str, StringConstraints(max_length=255)], Any], Field(max_length=200), AfterValidator(shallow)
]


def _timestamp(text: str) -> str:
    try:
        parse_timestamp(text)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"not an ISO 8601 timestamp: {exc}") from None
    return text


Timestamp = Annotated[
    str,
    StringConstraints(min_length=4, max_length=64),
    AfterValidator(_timestamp),
    Field(description="ISO 8601, e.g. 2026-05-30T09:00:00Z (a date alone means midnight UTC)"),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class EventIn(Strict):
    """One event in leadscore's own shape."""

    lead_id: Id
    type: TypeName
    timestamp: Timestamp
    id: Id | None = Field(default=None, description="idempotency key; default: a hash of the content")
    properties: Properties = {}

    def to_event(self) -> Event:
        props = {k: v for k, v in self.properties.items() if v is not None}
        when: datetime = parse_timestamp(self.timestamp)
        return Event(lead_id=self.lead_id, type=self.type, timestamp=when, properties=props, id=self.id)


class EventBatch(Strict):
    events: list[EventIn] = Field(min_length=1, description="at most 10,000 events (LEADSCORE_API_MAX_BULK_EVENTS)")


class Rejected(BaseModel):
    index: int = Field(description="position in the request's list")
    loc: list[str | int]
    msg: str


class IngestReport(BaseModel):
    received: int
    inserted: int = Field(description="new events stored (duplicates of stored events are not counted)")
    rescored: int = Field(
        description="leads rescored by the transaction that stored the events; small requests share"
        " transactions, so this and the next two count every request of that transaction"
    )
    changed: int = Field(description="leads whose score changed in that transaction")
    triggers: int = Field(description="triggers fired in that transaction")
    pending: int = Field(
        default=0,
        description="leads queued for rescoring by that transaction: their results include the events within"
        " about a second; until then `GET /v1/leads/{id}` says `pending: true`",
    )
    rejected: list[Rejected] = []


class LeadIn(Strict):
    attributes: Properties = Field(description="attributes to set; others are kept; history is recorded")


class LeadBulkItem(Strict):
    id: Id
    attributes: Properties

    def to_lead(self) -> Lead:
        return Lead(self.id, {k: v for k, v in self.attributes.items() if v is not None})


class LeadBatch(Strict):
    leads: list[LeadBulkItem] = Field(min_length=1)


class StageIn(Strict):
    stage: Id
    at: Timestamp | None = Field(default=None, description="when the move happened (default: now)")


class OutcomeIn(Strict):
    outcome: Literal["accepted", "rejected", "opportunity", "won", "lost"]
    at: Timestamp | None = None
    properties: Properties = {}


class MergeIn(Strict):
    other: Id = Field(description="the lead merged into this one (it becomes an alias)")


class ModelIn(Strict):
    source: Annotated[str, StringConstraints(min_length=1, max_length=1_000_000)] = Field(
        description="the model file's YAML text"
    )


class ApplyIn(ModelIn):
    quiet: bool = Field(default=False, description="fire no triggers for the changes the new model makes")


class ModelOut(BaseModel):
    version: str
    name: str
    applied_at: str | None
    active: bool
    source: str | None = None


class Validation(BaseModel):
    valid: bool
    version: str | None = None
    name: str | None = None
    errors: list[str] = []


class PlanOut(BaseModel):
    model_version: str
    leads: int
    score_changed: int
    labels_changed: dict[str, int]
    stage_changed: int
    playbook_changed: int
    triggers: dict[str, int]
    top_movers: list[dict[str, Any]]


class AppliedOut(BaseModel):
    version: str
    previous: str | None
    leads: int
    changed: int
    triggers: int


class Erased(BaseModel):
    lead_id: str
    rows: dict[str, int]


class Redeliver(Strict):
    ids: list[Id] | None = Field(default=None, description="message ids (default: every dead letter)")
    destination: Id | None = None


class Requeued(BaseModel):
    requeued: int
