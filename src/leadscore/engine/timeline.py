"""A lead's events, deduplicated and ordered, indexed by type for windowed look-ups at any time T.

Ties in time keep input order (`seq`), which decides "the most recent" event for `once:` and `last:`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from leadscore.domain.events import Event, dedupe_events


@dataclass(slots=True)
class TypeIndex:
    ts: list[int] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


class Timeline:
    """Events of one lead up to (and including) `until`, in time order."""

    __slots__ = ("by_type", "events")

    def __init__(self, events: Iterable[Event], until: int | None = None) -> None:
        unique = dedupe_events(events)
        if until is not None:
            unique = [e for e in unique if e.ts <= until]
        # sort is stable: equal timestamps keep input order
        ordered = sorted(unique, key=lambda e: e.ts)
        self.events: list[Event] = ordered
        self.by_type: dict[str, TypeIndex] = {}
        for seq, event in enumerate(ordered):
            idx = self.by_type.get(event.type)
            if idx is None:
                idx = self.by_type[event.type] = TypeIndex()
            idx.ts.append(event.ts)
            idx.seq.append(seq)
            idx.events.append(event)

    def select(
        self,
        types: tuple[str, ...],
        at: int,
        within_us: int | None,
        where: Callable[[Event], bool] | None,
    ) -> Iterator[tuple[int, Event]]:
        """Events of `types` with T - within < ts <= T that pass `where`, as (seq, event)."""
        for t in types:
            idx = self.by_type.get(t)
            if idx is None:
                continue
            hi = bisect_right(idx.ts, at)
            lo = bisect_right(idx.ts, at - within_us) if within_us is not None else 0
            evs, seqs = idx.events, idx.seq
            for i in range(lo, hi):
                e = evs[i]
                if where is None or where(e):
                    yield seqs[i], e
