"""When can a lead's result next change without a new event?

Time alone changes a result only through windows (`within`, `older_than`, `newer_than`) and decay.
An event leaves a window of length D at exactly ts + D (the window is T - D < ts <= T), and a `last`
bound flips at the latest event's ts + D. Collecting those instants gives the next time a refresh is
needed; the answer may be early (the result then does not change) but is never late. Decay changes a
score continuously, so decaying leads are revisited every `decay_step`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from leadscore.engine.compile import EventFilter, compile_where
from leadscore.engine.timeline import Timeline
from leadscore.model.conditions import EventCondition
from leadscore.model.spec import EventRule, Linear, ScoringModel
from leadscore.model.walk import conditions

DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True, slots=True)
class Window:
    types: tuple[str, ...]
    where: EventFilter
    length_us: int
    latest_only: bool = False  # `last:` looks at the most recent event only


@dataclass(frozen=True, slots=True)
class Decaying:
    types: tuple[str, ...]
    where: EventFilter
    ends_after_us: int | None  # linear decay reaches zero; half-life never does


def _condition_windows(cond: EventCondition) -> Iterator[Window]:
    """Time alone changes a condition only on events (`EventCondition.time_bounds`)."""
    for bound, latest_only in cond.time_bounds():
        yield Window(cond.types, compile_where(cond.where), bound.micros, latest_only=latest_only)


def collect(model: ScoringModel) -> tuple[list[Window], list[Decaying]]:
    windows: list[Window] = []
    decaying: list[Decaying] = []
    for rule in model.rules:
        if isinstance(rule, EventRule):
            where = compile_where(rule.where)
            if rule.within is not None:
                windows.append(Window(rule.on, where, rule.within.micros))
            if rule.decay is not None:
                # a decaying event stops counting when its linear decay reaches zero or when it
                # leaves the rule's window, whichever comes first; a half-life alone never ends
                ends = rule.decay.linear.micros if isinstance(rule.decay, Linear) else None
                if rule.within is not None:
                    ends = rule.within.micros if ends is None else min(ends, rule.within.micros)
                decaying.append(Decaying(rule.on, where, ends))
    for cond in conditions(model):
        if isinstance(cond, EventCondition):
            windows.extend(_condition_windows(cond))
    return windows, decaying


def next_change(
    windows: list[Window], decaying: list[Decaying], timeline: Timeline, at: int, decay_step_us: int = DAY_US
) -> int | None:
    best: int | None = None

    def consider(t: int) -> None:
        nonlocal best
        if t > at and (best is None or t < best):
            best = t

    for w in windows:
        m, lo, hi = timeline.window(w.types, at, w.length_us, w.where)
        if w.latest_only:
            _, _, last = timeline.window(w.types, at, None, w.where)
            if last:
                consider(m.ts[last - 1] + w.length_us)
        elif lo < hi:
            # the earliest event still inside the window is the next to leave it
            consider(m.ts[lo] + w.length_us)
    for d in decaying:
        for _, e in timeline.select(d.types, at, d.ends_after_us, d.where):
            consider(at + decay_step_us if d.ends_after_us is None else min(at + decay_step_us, e.ts + d.ends_after_us))
            break
    return best
