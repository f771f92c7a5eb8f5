"""Plain events held as columns: a bulk request's events as its body was read, ready for the driver's rows.

A 10,000-event request read into one `Event` per event, then into one row tuple per event, paid a Python
call or two per event at each step, and each later check (the model's, the numbers', the identify
links) one more pass over them. `EventColumns` holds the same events as lists of their fields, made by
C-level passes (`map`, `zip`) over the decoded body (leadscore.api.bulk_body), and only for events that
none of those checks can refuse (`plain`): the screens that follow skip their passes for it
(`leadscore.store.ingest.event_problems`, `LeadService.ingest_events`, the store's identify links),
and `leadscore.store.events_repo.event_row_tuples` builds its rows column by column. It is still a
`Sequence[Event]`: anything else that reads it (a small request's group commit, `?wait=true`, a batch
of which some events are stored already) gets the events themselves, built once, when first asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain, compress, repeat
from operator import floordiv, sub
from typing import Any, overload

from leadscore.domain import Event
from leadscore.domain.events import received
from leadscore.domain.numbers import MAX_MAGNITUDE
from leadscore.engine.lifecycle_replay import STAGE_SET
from leadscore.store.identity import IDENTIFY

# the only event types `event_problems` can find fault with: any other event the schema accepted, the model takes
CHECKED_TYPES = frozenset({STAGE_SET, IDENTIFY})

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# property values that need no walk: no nesting (depth, NULs inside), numbers checked by their magnitude
_SCALARS = frozenset({str, bool, int, float, type(None)})
_NUMBERS = (int, float)


class EventColumns(Sequence[Event]):
    """Events as columns of their fields, aligned; every one plain (`plain` says what that means, and
    gives their properties).

    `timestamps` are aware UTC datetimes, `ts` their epoch microseconds, `properties` hold no nulls."""

    __slots__ = ("_events", "ids", "lead_ids", "properties", "timestamps", "ts", "types")

    def __init__(
        self,
        ids: list[str | None],
        lead_ids: list[str],
        types: list[str],
        timestamps: list[datetime],
        properties: list[dict[str, Any]],
        ts: list[int] | None = None,
    ) -> None:
        self.ids = ids
        self.lead_ids = lead_ids
        self.types = types
        self.timestamps = timestamps
        self.properties = properties
        # `to_micros` of each, in C: a timedelta floor-divided by one microsecond is its exact count of them
        if ts is None:
            ts = list(map(floordiv, map(sub, timestamps, repeat(_EPOCH)), repeat(_MICROSECOND)))
        self.ts = ts
        self._events: list[Event] | None = None

    @staticmethod
    def plain(types: list[str], properties: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Of events already valid as the API reads them (lengths, NULs, type names, UTC times), their
        properties without nulls (dropped as `EventIn.to_event` drops them) if every one is plain: of
        no type the model checks (`CHECKED_TYPES`), its properties flat (text, booleans, numbers) with
        every number within +-2**53 (`domain.numbers`, which `LeadService.ingest_events` applies); None
        otherwise, and the caller builds the events one by one. Columns are made of plain events only."""
        if not CHECKED_TYPES.isdisjoint(types):
            return None
        values = list(chain.from_iterable(map(dict.values, properties)))
        kinds = set(map(type, values))
        if not kinds <= _SCALARS:
            return None
        if int in kinds or float in kinds:  # the numbers among the values, picked and measured in C
            numbers = compress(values, map(isinstance, values, repeat(_NUMBERS)))
            if max(map(abs, numbers), default=0) > MAX_MAGNITUDE:
                return None
        if type(None) in kinds:
            return [_present(p) if None in p.values() else p for p in properties]
        return properties

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> EventColumns: ...

    def __getitem__(self, index: int | slice) -> Event | EventColumns:
        if isinstance(index, slice):  # a part of a plain batch is plain (`LeadService.ingest_events`' batches)
            return EventColumns(
                self.ids[index],
                self.lead_ids[index],
                self.types[index],
                self.timestamps[index],
                self.properties[index],
                self.ts[index],
            )
        return self.events()[index]

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def events(self) -> list[Event]:
        """The events themselves, built on first use (`domain.events.received`: the times are UTC)."""
        if self._events is None:
            self._events = list(map(received, self.lead_ids, self.types, self.timestamps, self.properties, self.ids))
        return self._events

    def unique_ids(self) -> bool:
        """Every event has an id, none twice: each is its own row, keyed by its id."""
        ids = self.ids
        return None not in ids and len(set(ids)) == len(ids)


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
