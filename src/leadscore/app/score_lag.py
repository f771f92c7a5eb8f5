"""Back-pressure by age: how long the oldest acknowledged-but-unscored event has waited, and how long
the intake yields to the rescoring for it.

Events are acknowledged once stored; the rescoring (leadscore.app.rescorer) scores their leads after,
sharing the machine's cores with the intake. When the intake takes them (PostgreSQL under 8 clients
on 2 cores: the server, the database and the clients saturate both), the rescoring falls behind and
the time from acknowledgement to score grew past a second (benchmarks/results/api.md). A queue that
is long is not a problem by itself (a bulk import's backlog is drained in its own time); one whose
real-time events are old is. So the intake watches the age of the oldest real-time commit whose leads
are not scored yet, and, past `after_s`, its group commit pauses a little before each commit
(`pause_s`): the CPU it leaves goes to the rescoring, and the requests that arrive meanwhile join the
next commit (fewer, larger commits: less CPU per event too).

The age is kept without asking the store: the group commit says when each commit that queued leads was
done (`committed`), and the rescoring says, after a real-time drain that took every real-time lead
queued, when that drain took its leads (`caught_up`): every commit done before that moment is scored.
Both times are `time.monotonic()`, which Linux keeps for the whole machine (CLOCK_MONOTONIC): the
rescoring process's readings compare with the server's.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

# commits closer together than this share one entry: a few hundred entries a second at most, whatever
# the commit rate
GRAIN_S = 0.01
# entries kept at most: beyond, the last one grows (the rescoring stopped for minutes: the age is what
# matters, and the oldest entry keeps it)
MAX_ENTRIES = 4096
# from `after_s` the pause grows over this span up to its largest (a ramp, not a step: the intake's rate
# eases down as the age grows instead of halving at one threshold and rebounding at once)
RAMP_S = 0.25


def pause_s(age: float, after_s: float, max_s: float, ramp_s: float = RAMP_S) -> float:
    """How long the group commit waits before its next commit, the oldest unscored real-time commit being
    `age` seconds old: nothing up to `after_s`, then up to `max_s` at `after_s + ramp_s` and beyond.
    `after_s` or `max_s` 0: never."""
    if after_s <= 0 or max_s <= 0 or age <= after_s:
        return 0.0
    return max_s * min(1.0, (age - after_s) / ramp_s)


class ScoreLag:
    """The commits whose leads the rescoring has not scored yet, as spans of commit times, oldest first.

    `committed` is called by the commit thread, `caught_up` by whoever hears from the rescoring (the
    event loop, or the rescoring thread), `pause` by the commit thread."""

    def __init__(self, after_s: float, max_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.after_s = after_s
        self.max_s = max_s
        self._clock = clock
        self._spans: deque[list[float]] = deque()  # [first, last] commit times of a span
        self.paused_s = 0.0  # the pauses `pause` gave, in all (the commit thread's alone: no lock)
        self._lock = threading.Lock()

    def committed(self, at: float | None = None) -> None:
        """A commit that queued leads for rescoring was done (at `at`, or now)."""
        now = self._clock() if at is None else at
        with self._lock:
            spans = self._spans
            if spans and (now - spans[-1][0] < GRAIN_S or len(spans) >= MAX_ENTRIES):
                spans[-1][1] = max(spans[-1][1], now)
            else:
                spans.append([now, now])

    def caught_up(self, took: float) -> None:
        """The rescoring drained every real-time lead queued when it took its leads at `took`: the
        commits done before then are scored."""
        with self._lock:
            spans = self._spans
            while spans and spans[0][1] < took:
                spans.popleft()
            if spans and spans[0][0] < took:  # a span the drain cut: its commits after `took` remain
                spans[0][0] = took

    def age(self) -> float:
        """Seconds since the oldest commit whose leads are not scored yet (0: none)."""
        with self._lock:
            oldest = self._spans[0][0] if self._spans else None
        return 0.0 if oldest is None else max(0.0, self._clock() - oldest)

    def pause(self) -> float:
        """`pause_s` at the current age, for the commit thread to wait (counted in `paused_s`)."""
        if self.max_s <= 0 or self.after_s <= 0:
            return 0.0
        pause = pause_s(self.age(), self.after_s, self.max_s)
        self.paused_s += pause
        return pause
