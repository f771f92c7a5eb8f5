"""The rescoring drain's copy of recently drained leads' timelines, so that a drain reads from the store
only the events appended since (leadscore.store.pending).

A drain rescores each lead it takes from its whole log. Under a stream of single events the same
leads come back drain after drain, a few events longer each time; reading and decoding their whole logs
again was a third of a drain's CPU (60 leads of 50 events, profiled). A copy is used only when the
store agrees with it: the lead's stamp, read before the events (`drain_reads.stamps`), counts the lead's
events and sums and bounds their log positions (`seq`, never reused); the copy plus the events read
after its last position must give the same three figures, or the lead's whole log is read as before.
Events only leave a lead with the lead (an erasure, a merge into another), and a merge moves events in
with their old positions, which the count then misses: either way the figures disagree. But SQLite
numbers a new row after the highest one left, so an erasure of the newest events gives their positions
again, and the same lead id coming back with as many events would match its erased copy: every copy is
dropped when the store's log of erasures grows (erasures are rare; PostgreSQL never reuses a position,
but the copies are dropped there too rather than keep a person's erased events in memory). Whatever the
drain reads goes back in the copy with figures taken from the events themselves, so a copy describes
exactly what it holds.

A copy also keeps the engine's timeline of its events (`Timeline`: the events by type, and those found
for each rule's filter), and a drain whose new events all come at or after the copy's last one (the
real-time case, ties included) extends it (`Timeline.extend`) instead of building the lead's timeline
from its whole log again. With leads of 50 events that takes away the timeline's build and half of
the rules' cost (their filters run over every event), about 40 µs a lead of the 85-130 by which such a
drain cost more than one of leads of a single event; net of what keeping the timelines costs (the
garbage collector's walks among them), a drain's CPU fell by 6.5% (median; 2,000 leads, drains of
200, benchmarks/drain_length.py). Late events (inside the copy's span), events a deduplication would
drop and a drain at a time before the copy's last event build it anew, as before. The timelines'
lists add about a tenth to a copy's memory.

Per process (the rescoring process, or the server's thread), bounded by events held, least recently
drained leads dropped first. The copies are long-lived objects the garbage collector walks in a full
collection: about 70 ms with 200,000 events held (measured on a loaded machine), once in a while.
"""

from __future__ import annotations

import bisect
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.domain.events import Event
from leadscore.engine.timeline import Timeline
from leadscore.store.base import LeadStore
from leadscore.store.events_repo import LEAD_EVENTS_PG, json_value, load_timelines, timeline_rows
from leadscore.store.leads_repo import chunks
from leadscore.store.tables import erasures

MAX_EVENTS = 200_000  # about 110 MB (an event with its properties and position: ~550 bytes, measured)


@dataclass
class _Copy:
    events: list[Event]  # time order, ties in log order, as the store reads them
    seqs: list[int]  # aligned with `events`
    total: int  # sum of `seqs`
    last: int  # max of `seqs`
    # the engine's timeline of exactly these events (its `events` is this `events` list), when it holds
    # them all (none left out as a duplicate or as later than the time it was built for), and their ids
    timeline: Timeline | None = None
    ids: set[str] | None = None


# Events after a position, per lead: each lead's own position (an index range of `ix_events_lead_ts`)
_AFTER_SQLITE = (
    "WITH w(id, after) AS (VALUES {}) "
    "SELECT e.event_key, e.lead_id, e.received_lead_id, e.type, e.ts, e.properties, e.seq "
    "FROM w JOIN events AS e ON e.lead_id = w.id AND e.seq > w.after ORDER BY e.lead_id, e.ts, e.seq"
)
# (PostgreSQL: a look-up per lead, in the array's order, as `events_repo.LEAD_EVENTS_PG` says why)
_AFTER_PG = (
    "SELECT e.event_key, e.lead_id, e.received_lead_id, e.type, e.ts, CAST(e.properties AS text), e.seq "
    "FROM unnest(CAST(%s AS text[]), CAST(%s AS bigint[])) WITH ORDINALITY AS t(id, after, n) "
    + LEAD_EVENTS_PG.format(" AND events.seq > t.after")
)


_ERASURES = sa.select(sa.func.coalesce(sa.func.max(erasures.c.id), 0))


class TimelineCache:
    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self.max_events = max_events
        self._copies: OrderedDict[str, _Copy] = OrderedDict()
        self._held = 0
        self._erasures = -1  # the store's highest erasures.id when the copies were checked last
        self.hits = 0  # leads whose copy the store agreed with (tests, traces)
        self.misses = 0
        self.extended = 0  # of the hits, leads whose copy's engine timeline was extended (tests, traces)

    def timelines(
        self,
        conn: Connection,
        lead_ids: Sequence[str],
        stamps: Mapping[str, tuple[Any, ...]],
        at_us: int | None = None,
        built: dict[str, Timeline] | None = None,
    ) -> tuple[dict[str, list[Event]], dict[str, list[int]]]:
        """The leads' timelines and their events' positions, as `load_timelines` reads them.

        `stamps`: per lead, `drain_reads.stamps`'s stamp, whose last three figures are the lead's
        events' count, greatest position and sum of positions (empty: the lead is gone). With
        `at_us` and `built`, `built` receives each lead's engine timeline at `at_us`, equal to
        `Timeline(events, until=at_us)`: the copy's own, extended with the appended events when they
        come at or after its last one (the real-time case; `Timeline.extend`), else built anew. The
        lists returned are then the copies' own: the caller reads them, never changes them."""
        erasures = int(conn.execute(_ERASURES).scalar_one())
        if erasures != self._erasures:  # someone was erased: their positions may be given again
            self.forget()
            self._erasures = erasures
        copies = {lead: self._copies[lead] for lead in lead_ids if lead in self._copies and stamps.get(lead)}
        appended: dict[str, list[Event]] = defaultdict(list)
        appended_seqs: dict[str, list[int]] = {}
        if copies:
            self._read_after(conn, copies, appended, appended_seqs)
        timelines: dict[str, list[Event]] = {}
        seqs: dict[str, list[int]] = {}
        whole: list[str] = []
        for lead in lead_ids:
            copy = copies.get(lead)
            if copy is None:
                whole.append(lead)
                continue
            new, new_seqs = appended.get(lead, []), appended_seqs.get(lead, [])
            count, last, total = stamps[lead][-3:]
            if (
                len(copy.seqs) + len(new_seqs) != count
                or max([copy.last, *new_seqs]) != last
                or copy.total + sum(new_seqs) != total
            ):
                whole.append(lead)  # the log changed otherwise than by appends: read it whole
                continue
            self.hits += 1
            if at_us is not None and built is not None and _extends(copy, new, new_seqs, at_us):
                assert copy.timeline is not None and copy.ids is not None
                self.extended += 1
                copy.timeline.extend(new)  # `copy.events` is its event list: appended to with it
                copy.seqs.extend(new_seqs)
                copy.ids.update(e.id for e in new if e.id is not None)
                copy.total += sum(new_seqs)
                copy.last = max([copy.last, *new_seqs])
                self._held += len(new_seqs)
                self._copies.move_to_end(lead)
                timelines[lead], seqs[lead], built[lead] = copy.events, copy.seqs, copy.timeline
                if len(copy.seqs) > self.max_events // 4:  # grown into a lead that would crowd the others out
                    self._held -= len(self._copies.pop(lead).seqs)
                continue
            events, positions = list(copy.events), list(copy.seqs)
            for event, seq in zip(new, new_seqs, strict=True):  # log order: ties in time go last
                at = bisect.bisect_right(events, event.ts, key=_ts)
                events.insert(at, event)
                positions.insert(at, seq)
            timelines[lead], seqs[lead] = events, positions
        if whole:
            self.misses += len(whole)
            found_seqs: dict[str, list[int]] = {}
            found = load_timelines(conn, whole, found_seqs)
            for lead in whole:
                if lead in found:
                    timelines[lead], seqs[lead] = found[lead], found_seqs[lead]
        for lead, events in timelines.items():
            if built is not None and lead in built:  # extended in place above
                continue
            timeline = None
            if at_us is not None and built is not None:
                timeline = built[lead] = Timeline(events, until=at_us)
            self._keep(lead, events, seqs[lead], timeline)
        self._trim()
        return timelines, seqs

    def _read_after(
        self,
        conn: Connection,
        copies: Mapping[str, _Copy],
        out: dict[str, list[Event]],
        out_seqs: dict[str, list[int]],
    ) -> None:
        postgres = conn.dialect.paramstyle != "qmark"
        for part in chunks(sorted(copies), 500):
            afters = [copies[lead].last for lead in part]
            if postgres:
                found = conn.exec_driver_sql(_AFTER_PG, (list(part), afters))
            else:
                pairs = tuple(x for pair in zip(part, afters, strict=True) for x in pair)
                found = conn.exec_driver_sql(_AFTER_SQLITE.format(", ".join(["(?, ?)"] * len(part))), pairs)
            rows = found.cursor.fetchall()
            found.close()
            timeline_rows(rows, out, out_seqs, json_value)

    def _keep(self, lead: str, events: list[Event], seqs: list[int], timeline: Timeline | None = None) -> None:
        old = self._copies.pop(lead, None)
        if old is not None:
            self._held -= len(old.seqs)
        if not seqs or len(seqs) > self.max_events // 4:  # a lead that would crowd the others out
            return
        copy = _Copy(events, seqs, sum(seqs), max(seqs))
        if timeline is not None and len(timeline.events) == len(events):  # holds them all, in this order
            ids: set[str | None] = {e.id for e in events}
            if None not in ids:  # (stored events have ids: an event without one would be deduplicated by content)
                copy.events, copy.timeline, copy.ids = timeline.events, timeline, {i for i in ids if i is not None}
        self._copies[lead] = copy
        self._held += len(seqs)

    def _trim(self) -> None:
        while self._held > self.max_events and self._copies:
            _, dropped = self._copies.popitem(last=False)
            self._held -= len(dropped.seqs)

    def forget(self) -> None:
        self._copies.clear()
        self._held = 0


def _ts(event: Event) -> int:
    return event.ts


def _extends(copy: _Copy, new: Sequence[Event], new_seqs: Sequence[int], at_us: int) -> bool:
    """Whether `copy`'s timeline, extended with `new` (positions `new_seqs`), is the timeline of all of
    them at `at_us`: the new events in log order (time, then position), at or after the copy's last
    one and not after `at_us` (a timeline sorted by time, ties in log order, holding every event),
    each with an id of its own (none that the timeline's deduplication would drop)."""
    if copy.timeline is None or copy.ids is None:
        return False
    held = copy.timeline.events
    if held and held[-1].ts > at_us:  # built for a later time: at `at_us` its last events are left out
        return False
    if not new:
        return True
    if (held and new[0].ts < held[-1].ts) or new[-1].ts > at_us:
        return False
    order = [(e.ts, seq) for e, seq in zip(new, new_seqs, strict=True)]
    if any(a > b for a, b in pairwise(order)):  # not in log order (the reads sort it so)
        return False
    ids = {e.id for e in new}
    return None not in ids and len(ids) == len(new) and copy.ids.isdisjoint(ids)


_CACHES: weakref.WeakKeyDictionary[LeadStore, TimelineCache] = weakref.WeakKeyDictionary()


def for_store(store: LeadStore) -> TimelineCache:
    """The copies of timelines the worker's drains of `store` keep, in this process."""
    cache = _CACHES.get(store)
    if cache is None:
        cache = _CACHES[store] = TimelineCache()
    return cache
