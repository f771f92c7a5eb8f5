"""A lead's events, deduplicated and ordered, indexed for windowed look-ups at any time T.

Ties in time keep input order (`seq`), which decides "the most recent" event for `once:` and `last:`.
The events that pass a rule's type and `where:` filter are found once per timeline and cached, so a
lifecycle replay that needs the score at every event's time pays only a binary search per rule.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from leadscore.domain.events import Event, dedupe_events
from leadscore.engine.values import MISSING


class PropertyFilter:
    """An event filter on one property: `test(event.properties.get(prop, MISSING))`.

    `Timeline.matching` runs `test` once per distinct text value of the property instead of once
    per event (a lead's events repeat a few page types and channels): a predicate's verdict on a
    string depends on that string only.
    """

    __slots__ = ("prop", "test")

    def __init__(self, prop: str, test: Callable[[Any], Any]) -> None:
        self.prop = prop
        self.test = test

    def __call__(self, event: Event) -> bool:
        return bool(self.test(event.properties.get(self.prop, MISSING)))

    def passing(self, events: list[Event]) -> list[int]:
        """Indices of the events that pass, the test run once per distinct text value."""
        prop, test = self.prop, self.test
        verdicts: dict[str, bool] = {}
        out: list[int] = []
        for i, event in enumerate(events):
            value = event.properties.get(prop, MISSING)
            if value.__class__ is str:
                ok = verdicts.get(value)
                if ok is None:
                    ok = verdicts[value] = bool(test(value))
            else:
                ok = bool(test(value))
            if ok:
                out.append(i)
        return out


EventFilter = Callable[[Event], bool] | None


@dataclass(slots=True)
class Matched:
    """Events of some types passing a filter, sorted by (ts, seq)."""

    ts: list[int] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def bounds(self, at: int, within_us: int | None) -> tuple[int, int]:
        """Index range of the events with T - within < ts <= T."""
        hi = bisect_right(self.ts, at)
        lo = bisect_right(self.ts, at - within_us) if within_us is not None else 0
        return lo, hi


_TS = attrgetter("ts")


class Timeline:
    """Events of one lead up to (and including) `until`, in time order."""

    __slots__ = ("_cache", "by_type", "events")

    def __init__(self, events: Iterable[Event], until: int | None = None) -> None:
        unique = dedupe_events(events)
        if until is not None:
            unique = [e for e in unique if e.ts <= until]
        # sort is stable: equal timestamps keep input order
        ordered = sorted(unique, key=_TS)
        self.events: list[Event] = ordered
        self.by_type: dict[str, Matched] = {}
        self._index(ordered, 0)
        # per (types, id of the filter): the filter (kept alive, so that its id is not reused) and its events
        self._cache: dict[tuple[tuple[str, ...], int], tuple[EventFilter, Matched]] = {}

    def extend(self, events: Sequence[Event]) -> None:
        """Append `events`, in their order, as `Timeline(self.events + events, until)` would hold them:
        for events at or after the last one's time (ties after it, as input order keeps them), none
        with the identity of one held or of another of them, none after `until`; the caller checks that
        (the rescoring drain, leadscore.store.timeline_cache). Costs what the new events cost, not the
        timeline's length: the lists are appended to, and the events found so far for a filter
        (`matching`) are extended with those of the new events that pass it."""
        base = len(self.events)
        self.events.extend(events)
        self._index(events, base)
        for key, (where, found) in list(self._cache.items()):
            types = key[0]
            if len(types) == 1 and where is None:  # `by_type`'s own lists, extended above (or none yet)
                del self._cache[key]
                continue
            for seq, event in enumerate(events, base):
                if event.type in types and (where is None or where(event)):
                    found.ts.append(event.ts)
                    found.seq.append(seq)
                    found.events.append(event)

    def _index(self, events: Sequence[Event], base: int) -> None:
        """`by_type` gets `events`, the first at position `base` of the timeline."""
        for seq, event in enumerate(events, base):
            idx = self.by_type.get(event.type)
            if idx is None:
                idx = self.by_type[event.type] = Matched()
            idx.ts.append(event.ts)
            idx.seq.append(seq)
            idx.events.append(event)

    def matching(self, types: tuple[str, ...], where: EventFilter) -> Matched:
        """The events of `types` passing `where`, computed once per (types, filter)."""
        key = (types, id(where))
        cached = self._cache.get(key)
        if cached is not None:
            return cached[1]
        if len(types) == 1 and where is None:
            found = self.by_type.get(types[0]) or Matched()
        elif len(types) == 1 and isinstance(where, PropertyFilter):
            idx = self.by_type.get(types[0])
            if idx is None:
                found = Matched()
            else:
                keep = where.passing(idx.events)
                found = Matched([idx.ts[i] for i in keep], [idx.seq[i] for i in keep], [idx.events[i] for i in keep])
        else:
            rows: list[tuple[int, int, Event]] = []
            for t in types:
                idx = self.by_type.get(t)
                if idx is None:
                    continue
                rows.extend(
                    (ts, seq, e)
                    for ts, seq, e in zip(idx.ts, idx.seq, idx.events, strict=True)
                    if where is None or where(e)
                )
            if len(types) > 1:
                rows.sort(key=lambda r: r[1])  # seq order is (ts, input order)
            found = Matched([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        self._cache[key] = (where, found)
        return found

    def window(
        self, types: tuple[str, ...], at: int, within_us: int | None, where: EventFilter
    ) -> tuple[Matched, int, int]:
        m = self.matching(types, where)
        lo, hi = m.bounds(at, within_us)
        return m, lo, hi

    def select(
        self, types: tuple[str, ...], at: int, within_us: int | None, where: EventFilter
    ) -> Iterator[tuple[int, Event]]:
        """Events of `types` with T - within < ts <= T that pass `where`, as (seq, event)."""
        m, lo, hi = self.window(types, at, within_us, where)
        for i in range(lo, hi):
            yield m.seq[i], m.events[i]
