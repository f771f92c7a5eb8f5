"""A bulk body read whole: one pydantic-core call from the request's JSON bytes to the domain events.

The bulk route's usual case (leadscore.api.routes.events): a body valid whole becomes its events here,
each timestamp read once and each event built once. Any other body gives None, and the route reads it
event by event with `EventIn` (leadscore.api.intake.parse_items), which names what is wrong where; so
the checks here accept exactly what `EventIn` accepts, and may say it otherwise, since their messages
are never shown: the NUL check is a pattern (in the validator's Rust, not a Python call per id), and
the timestamp is parsed by the validator that checks it, not a second time to build the event
(tests/api/test_bulk_body.py compares the two reads on generated bodies).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, NotRequired

from pydantic import AfterValidator, ConfigDict, Field, PlainValidator, StringConstraints, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from leadscore.api.schemas import Properties, TypeName
from leadscore.domain import Event
from leadscore.domain.timeutil import parse_timestamp

_Id = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00]*$")]


def _instant(value: object) -> datetime:
    """`schemas.Timestamp`'s checks, keeping the instant they read."""
    if type(value) is not str or not 4 <= len(value) <= 64:
        raise ValueError("not a timestamp")
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise ValueError("not a timestamp") from None


class _Item(TypedDict):
    """`schemas.EventIn`'s fields and constraints."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]

    lead_id: _Id
    type: TypeName
    timestamp: Annotated[datetime, PlainValidator(_instant)]
    id: NotRequired[_Id | None]
    properties: NotRequired[Properties]


def _event(item: _Item) -> Event:
    """`EventIn.to_event`, from the values already read."""
    props = item.get("properties")
    kept = {k: v for k, v in props.items() if v is not None} if props else {}
    return Event(item["lead_id"], item["type"], item["timestamp"], kept, item.get("id"))


class _Batch(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]

    events: Annotated[list[Annotated[_Item, AfterValidator(_event)]], Field(min_length=1)]


_WHOLE: TypeAdapter[Any] = TypeAdapter(_Batch)


def events_of(raw: bytes, limit: int) -> list[Event] | None:
    """The events of a body valid whole with at most `limit` events; None for any other body (read
    event by event, a third of the cost of parsing the JSON first, then validating event by event)."""
    try:
        events: list[Event] = _WHOLE.validate_json(raw, strict=True)["events"]
    except ValidationError:
        return None
    return events if len(events) <= limit else None
