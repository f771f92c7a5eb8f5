"""`lifecycle_walk.Walker.walk` for every lead of a part at once, in NumPy.

The walk is a small state machine per lead (its stage), fed the lead's WALK rows in order. Its
per-lead form made a `StageChange` and a datetime per change, and ran the machine's Python for each
row: on a lifecycle apply the history pass's third largest cost after trigger detection and the
payloads. Here the machine runs over the part's leads together: step k takes the k-th row of every
lead that has one (a lead's rows are few: its moving events and the times its conditions change), and
the automatic transitions run, round by round, over the leads whose conditions call them. The
transitions are tables over stage codes (`Tables`), built once per walker.

The changes come out as flat columns, lead after lead, each lead's own in the order the per-lead walk
makes them (its initial entry first): `Changes`. The stage texts, causes and event ids are the ones
`Walker.walk` gives (the property test in tests/bulk compares them lead by lead).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from leadscore.bulk.lifecycle_walk import BITS, EVENT, Cols, Walker
from leadscore.engine.lifecycle_replay import STAGE_SET

INITIAL, AUTO, MANUAL = 0, 1, 2  # cause codes; an event's cause is EVENTS + its type's code


class Changes(NamedTuple):
    """A part's stage changes, lead after lead, each lead's in order, its initial entry first.

    `first[i]:first[i + 1]` are lead i's; `stage` is each lead's stage after its walk."""

    first: list[int]
    t: list[int]
    to: list[str]
    previous: list[str | None]
    cause: list[str]
    event_id: list[str | None]
    stage: list[str]


class Tables:
    """A walker's transitions as tables over stage codes (`codes`: a stage text's code, grown with
    any other stage a part names, e.g. a `stage_set` to a stage the model lacks)."""

    def __init__(self, walker: Walker) -> None:
        self.walker = walker
        known = {walker.initial, *walker.auto}
        for trs in walker.auto.values():
            known.update(to for _, to in trs)
        for ons in walker.on.values():
            for sources, to in ons:
                known.add(to)
                known.update(sources or ())
        self.names: list[str] = sorted(known)
        self.codes = {s: k for k, s in enumerate(self.names)}
        self.types = {t: k for k, t in enumerate(sorted(walker.on))}
        self.n_auto = 1 + max((k for trs in walker.auto.values() for k, _ in trs), default=-1)

    def code(self, stage: str) -> int:
        found = self.codes.get(stage)
        if found is None:
            found = self.codes[stage] = len(self.names)
            self.names.append(stage)
        return found

    def arrays(self) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """Over the stage codes known now: by event type and stage, the event transition's target (-1:
        none); by automatic transition, the stages it leaves; and its target."""
        w, n = self.walker, len(self.names)
        on = np.full((max(len(self.types), 1), n), -1, dtype=np.int64)
        for typ, k in self.types.items():
            for s, name in enumerate(self.names):
                to = next((to for sources, to in w.on[typ] if sources is None or name in sources), None)
                if to is not None:
                    on[k, s] = self.codes[to]
        sources = [np.zeros(n, dtype=bool) for _ in range(self.n_auto)]
        targets = np.full(max(self.n_auto, 1), -1, dtype=np.int64)
        for stage, trs in w.auto.items():
            for k, to in trs:
                sources[k][self.codes[stage]] = True
                targets[k] = self.codes[to]
        return on, sources, targets


class _Log:
    """The changes as they are made, in arrays per step (lead, time, from, to, cause, row of the event id)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, *cols: np.ndarray) -> None:
        if len(cols[0]):
            self.parts.append(cols)


def walk_part(tables: Tables, inits: list[str], starts: list[int], lead_of: np.ndarray, cols: Cols) -> Changes | None:
    """The walk of each lead i of a part from stage `inits[i]` at `starts[i]` over its rows of `cols`
    (`lifecycle_walk.part_rows`; `lead_of[j]`: row j's lead, -1 for a row of no lead, in lead order).
    None where the masks need more than one word (the per-lead walk then)."""
    ts, kinds, types, eids, targets, agains, masks = cols
    if tables.n_auto > BITS:
        return None
    n = len(inits)
    if not n:
        return Changes([0], [], [], [], [], [], [])
    stage = np.fromiter((tables.code(s) for s in inits), dtype=np.int64, count=n)
    keep = np.flatnonzero(lead_of >= 0)
    lead = lead_of[keep]
    t = np.asarray(ts, dtype=np.int64)[keep]
    mask = np.asarray(masks, dtype=np.int64)[keep]
    event = np.asarray(kinds, dtype=np.int64)[keep] == EVENT
    again = np.asarray(agains, dtype=bool)[keep]
    # an event's own target: a `stage_set`'s stage, else -2 and the type's row of the table
    type_codes, set_to = tables.types, np.full(len(keep), -2, dtype=np.int64)
    type_row = np.zeros(len(keep), dtype=np.int64)
    for j, row in enumerate(keep.tolist()):
        if event[j]:
            typ = types[row]
            if typ == STAGE_SET:
                target = targets[row]
                assert target is not None  # a bad `stage` is the pure scorer's (fallback)
                set_to[j] = tables.code(target)
            else:
                type_row[j] = type_codes.get(typ or "", -1)
    on, sources, auto_to = tables.arrays()
    if len(on) and on.shape[1]:
        on = np.concatenate([on, np.full((1, on.shape[1]), -1, dtype=np.int64)])  # row -1: a type of none
    log = _Log()
    log.add(
        np.arange(n),
        np.asarray(starts, dtype=np.int64),
        np.full(n, -1),
        stage.copy(),
        np.full(n, INITIAL),
        np.full(n, -1),
    )
    # each row's position among its lead's rows: step k takes position k of every lead at once
    if len(lead):
        lead_start = np.r_[0, np.flatnonzero(np.diff(lead)) + 1]
        pos = np.arange(len(lead)) - np.repeat(lead_start, np.diff(np.r_[lead_start, len(lead)]))
        by_pos = np.argsort(pos, kind="stable")
        bounds = np.searchsorted(pos[by_pos], np.arange(pos.max() + 2))
    else:
        by_pos, bounds = lead, np.zeros(1, dtype=np.int64)
    rounds = tables.walker.rounds
    for k in range(len(bounds) - 1):
        rows = by_pos[bounds[k] : bounds[k + 1]]
        who = lead[rows]
        ev = event[rows]
        again_rows = rows[ev & again[rows]]
        _automatic(stage, lead[again_rows], t[again_rows], mask[again_rows], sources, auto_to, rounds, log)
        ev_rows = rows[ev]
        if len(ev_rows):
            ev_lead = lead[ev_rows]
            now = stage[ev_lead]
            to = set_to[ev_rows]
            by_type = to == -2
            if by_type.any():
                to[by_type] = on[type_row[ev_rows[by_type]], now[by_type]]
            moved = (to >= 0) & (to != now)
            m = ev_rows[moved]
            cause = np.where(set_to[m] == -2, 3 + type_row[m], MANUAL)
            log.add(lead[m], t[m], now[moved], to[moved], cause, keep[m])
            stage[lead[m]] = to[moved]
        _automatic(stage, who, t[rows], mask[rows], sources, auto_to, rounds, log)
    return _changes(tables, log, n, stage, types, eids)


def _automatic(
    stage: np.ndarray,
    who: np.ndarray,
    t: np.ndarray,
    mask: np.ndarray,
    sources: list[np.ndarray],
    auto_to: np.ndarray,
    rounds: int,
    log: _Log,
) -> None:
    """`Walker._automatic` for the leads `who` (distinct) at times `t` under conditions `mask`: each
    round, each lead's first automatic transition (model order) that leaves its stage and holds."""
    for _ in range(rounds):
        if not len(who):
            return
        now = stage[who]
        to = np.full(len(who), -1, dtype=np.int64)
        for k, leaves in enumerate(sources):
            hit = (to < 0) & leaves[now] & ((mask >> k) & 1).astype(bool)
            to[hit] = auto_to[k]
        held = to >= 0
        moved = held & (to != now)
        log.add(
            who[moved], t[moved], now[moved], to[moved], np.full(int(moved.sum()), AUTO), np.full(int(moved.sum()), -1)
        )
        stage[who[held]] = to[held]
        who, t, mask = who[held], t[held], mask[held]


def _changes(
    tables: Tables, log: _Log, n: int, stage: np.ndarray, types: list[str | None], eids: list[str | None]
) -> Changes:
    """The log's changes lead after lead (a stable sort keeps each lead's in the order made)."""
    lead, t, frm, to, cause, eid = (np.concatenate(c) for c in zip(*log.parts, strict=True))
    order = np.argsort(lead, kind="stable")
    names = tables.names
    by_type = sorted(tables.types, key=tables.types.__getitem__)
    causes = ["initial", "auto", "manual", *(f"event:{typ}" for typ in by_type), "event:"]
    # an event type of no transition never moves (code -1 + 3): the last cause, never used
    first = np.searchsorted(lead[order], np.arange(n + 1)).tolist()
    return Changes(
        first,
        t[order].tolist(),
        [names[c] for c in to[order].tolist()],
        [None if c < 0 else names[c] for c in frm[order].tolist()],
        [causes[c] for c in cause[order].tolist()],
        [None if r < 0 else eids[r] for r in eid[order].tolist()],
        [names[c] for c in stage.tolist()],
    )
