"""Events: everything that happens to a lead, in an append-only log (ARCHITECTURE.md decision 2)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadscore.domain.timeutil import from_micros, parse_timestamp, to_iso, to_micros

_new = object.__new__


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a lead did or that happened to it.

    `ts` (epoch microseconds) is derived from `timestamp`; engines compare it, never the datetime,
    so every engine draws window boundaries identically. `properties` holds only present values.
    """

    lead_id: str
    type: str
    timestamp: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None
    ts: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts", to_micros(self.timestamp))

    @classmethod
    def stored(cls, lead_id: str, type: str, ts: int, properties: Mapping[str, Any], id: str | None = None) -> Event:
        """An event read back from the store, which keeps `ts` (epoch microseconds): its `timestamp`
        is made from it (exactly: `from_micros`), rather than `ts` from the timestamp again.

        The rescoring drain reads each queued lead's whole log: skipping the recomputation made a
        drain of 60 leads of 50 events 4-8% cheaper in CPU (42-44 -> 38-43 ms, SQLite)."""
        return _built(cls, lead_id, type, from_micros(ts), properties, id, ts)

    @classmethod
    def of(
        cls,
        lead_id: str,
        type: str,
        timestamp: datetime | str,
        id: str | None = None,
        **properties: Any,
    ) -> Event:
        """Convenient constructor for code and tests: `Event.of("c-1", "purchase", "2026-01-01", amount=9)`."""
        return cls(
            lead_id=lead_id,
            type=type,
            timestamp=parse_timestamp(timestamp),
            properties={k: v for k, v in properties.items() if v is not None},
            id=id,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lead_id": self.lead_id, "type": self.type, "timestamp": to_iso(self.timestamp)}
        if self.id is not None:
            out["id"] = self.id
        out.update(self.properties)
        return out


_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)


def _slot_setters() -> tuple[Any, ...]:
    """The slots' own setters, in the order `_built` sets them."""
    names = ("lead_id", "type", "timestamp", "properties", "id", "ts")
    return tuple(Event.__dict__[name].__set__ for name in names)


_SET_LEAD, _SET_TYPE, _SET_TIMESTAMP, _SET_PROPERTIES, _SET_ID, _SET_TS = _slot_setters()


def received(lead_id: str, type: str, timestamp: datetime, properties: Mapping[str, Any], id: str | None) -> Event:
    """`Event(lead_id, type, timestamp, properties, id)` for a `timestamp` already aware and in UTC,
    built with the slots' setters (the dataclass's `__init__` and `__post_init__` go through
    `object.__setattr__` and `to_micros`): the same event, 0.5 µs of CPU cheaper (1.05 -> 0.57), a
    tenth of a bulk request's read of its body, which builds one per event (leadscore.api.bulk_body)."""
    delta = timestamp - _EPOCH_UTC  # `to_micros`, inline
    return _built(
        Event,
        lead_id,
        type,
        timestamp,
        properties,
        id,
        (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds,
    )


def _built(
    cls: type[Event],
    lead_id: str,
    type: str,
    timestamp: datetime,
    properties: Mapping[str, Any],
    id: str | None,
    ts: int,
) -> Event:
    """An event with every field given, `ts` included (`Event.stored`, `received`): set through the
    slots' own setters, without the frozen dataclass's `__init__` and `__post_init__`."""
    event = _new(cls)
    _SET_LEAD(event, lead_id)
    _SET_TYPE(event, type)
    _SET_TIMESTAMP(event, timestamp)
    _SET_PROPERTIES(event, properties)
    _SET_ID(event, id)
    _SET_TS(event, ts)
    return event


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, float) and value.is_integer():
        # 100 and 100.0 are the same value (MODEL-FORMAT.md); so are their events.
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def event_key(event: Event) -> str:
    """The event's identity: its `id`, or a hash of its content (lead, type, time, properties).

    Content keys are prefixed so that an explicit id can never collide with a content hash.
    """
    if event.id is not None:
        return event.id
    payload = json.dumps(
        [event.lead_id, event.type, event.ts, _canonical(dict(event.properties))],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return "h:" + hashlib.sha256(payload.encode()).hexdigest()[:32]


def dedupe_events(events: Iterable[Event]) -> list[Event]:
    """Keep the first event seen for each identity, in input order."""
    seen: set[str] = set()
    out: list[Event] = []
    for event in events:
        key = event.id  # `event_key`, without its call for an event with an id (every stored one)
        if key is None:
            key = event_key(event)
        if key not in seen:
            seen.add(key)
            out.append(event)
    return out
