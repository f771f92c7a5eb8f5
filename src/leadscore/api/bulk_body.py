"""A bulk body read whole: one msgspec call from the request's JSON bytes to typed items, then column passes.

The bulk route's usual case (leadscore.api.routes.events): a body valid whole becomes its events here.
Any other body gives None, and the route reads it event by event with `EventIn`
(leadscore.api.intake.parse_items), which names what is wrong where; so the checks here accept exactly
what `EventIn` accepts, and may say it otherwise, since their messages are never shown
(tests/api/test_bulk_body.py compares the two reads on generated bodies, hostile ones included).

How the checks are split, each where it costs least:
- msgspec, in C, while decoding: the shape (an object with `events` only, each event an object with
  `EventIn`'s fields only, strict types, no coercion) and the lengths (ids, type, timestamp text,
  property keys and count). A pattern in msgspec is a call into Python's `re` per value, so the type's
  pattern is checked here once per distinct type instead.
- the body's bytes, once: no NUL anywhere. JSON can only write one as the escape `\\u0000` (a raw
  control character is malformed JSON, which msgspec refuses), so a body without that text holds no
  NUL in any id, key or value; one with it (or with an escaped backslash before `u0000`) has its ids
  and properties looked at one by one.
- the timestamps: `datetime.fromisoformat` on each text as sent, as `parse_timestamp` reads it
  (`_instants`).
- the properties: no NaN or infinity can come out of msgspec (it refuses `1e400`), and no NUL (above);
  only their nesting depth is left to check (`schemas.shallow`), for nested values only.

Plain events (no type the model checks, flat properties, numbers in range: `EventColumns.plain`) stay
columns, from which the store makes its rows without an `Event` per event; others are built one by one.
The read and the rows of a 10,000-event body: 5.0-5.3 µs of CPU per event with pydantic-core's read into
events, then rows from the events; 2.4-2.6 so (medians of 60 bodies, benchmarks/results/api.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from leadscore.api.schemas import TYPE_NAME_CHARS, shallow
from leadscore.domain import Event
from leadscore.domain.events import received
from leadscore.domain.timeutil import parse_timestamp
from leadscore.store.event_columns import EventColumns

_Id = Annotated[str, Meta(min_length=1, max_length=255)]  # `schemas.Id` (its NUL check: the body's, above)
_TypeName = Annotated[str, Meta(min_length=1, max_length=255)]  # `schemas.TypeName`, its pattern: `_TYPE_NAME`
_TYPE_NAME = re.compile(TYPE_NAME_CHARS).fullmatch  # fullmatch: `$` would let a final newline through
_Stamp = Annotated[str, Meta(min_length=4, max_length=64)]  # `schemas.Timestamp`'s lengths
_Props = Annotated[dict[Annotated[str, Meta(max_length=255)], Any], Meta(max_length=200)]  # `schemas.Properties`


class _Item(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """`schemas.EventIn`'s fields and constraints. `gc=False`: an item holds no reference to itself
    or to another item (its strings and a dict of JSON values), so the collector need not track it."""

    lead_id: _Id
    type: _TypeName
    timestamp: _Stamp
    id: _Id | None = None
    properties: _Props = msgspec.field(default_factory=dict)


class _Batch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    events: Annotated[list[_Item], Meta(min_length=1)]


_decode = msgspec.json.Decoder(_Batch).decode
_NUL = b"\\u0000"
_iso = datetime.fromisoformat
_ids, _lead_ids, _types, _stamps, _properties = (
    attrgetter(name) for name in ("id", "lead_id", "type", "timestamp", "properties")
)
_zone = attrgetter("tzinfo")


def events_of(raw: bytes, limit: int) -> Sequence[Event] | None:
    """The events of a body valid whole with at most `limit` events, as columns when they are plain
    (leadscore.store.event_columns); None for any other body (read event by event)."""
    try:
        items = _decode(raw).events
    except (msgspec.DecodeError, RecursionError):  # (msgspec's ValidationError is a DecodeError)
        return None
    if len(items) > limit:
        return None
    types = list(map(_types, items))
    if not all(map(_TYPE_NAME, set(types))):
        return None
    instants = _instants(list(map(_stamps, items)))
    if instants is None:
        return None
    ids, lead_ids, props = list(map(_ids, items)), list(map(_lead_ids, items)), list(map(_properties, items))
    nul = _NUL in raw  # maybe a NUL somewhere (or only an escaped backslash before "u0000")
    if nul and "\x00" in "".join([*lead_ids, *filter(None, ids)]):
        return None
    plain = None if nul else EventColumns.plain(types, props)
    if plain is not None:
        return EventColumns(ids, lead_ids, types, instants, plain)
    # nested properties, a type the model checks, a number out of range or a NUL to look for: the
    # events one by one (`EventIn.to_event`), each one's properties walked (`schemas.shallow`)
    try:
        props = [shallow({k: v for k, v in p.items() if v is not None}) for p in props]
    except ValueError:  # nested too deep, or a NUL
        return None
    return list(map(received, lead_ids, types, instants, props, ids))


def _instants(texts: list[str]) -> list[datetime] | None:
    """Each text's instant, an aware UTC datetime; None when one is no timestamp.

    `datetime.fromisoformat` on the text as sent gives, for every text it reads, `parse_timestamp`'s
    instant (that one only strips the text, which fromisoformat refuses with spaces around it, and turns
    a final Z into +00:00, which fromisoformat reads as UTC already); a Z or +00:00 gives `UTC` itself,
    the usual case, settled for the whole column at once. Any other text goes to `parse_timestamp`."""
    try:
        instants = list(map(_iso, texts))
    except ValueError:
        instants = []
        for text in texts:
            try:
                instants.append(_iso(text))
            except ValueError:
                try:
                    instants.append(parse_timestamp(text))
                except (ValueError, TypeError, OverflowError):
                    return None
    if set(map(_zone, instants)) == {UTC}:
        return instants
    try:
        return [_utc(when) for when in instants]
    except OverflowError:  # past the last instant once in UTC: parse_timestamp refuses it
        return None


def _utc(when: datetime) -> datetime:
    zone = when.tzinfo
    if zone is UTC:
        return when
    return when.replace(tzinfo=UTC) if zone is None else when.astimezone(UTC)
