"""Who works and who waits during a rescore in parts: spans of its processes on one clock.

A lifecycle apply in parts runs in several processes at once (`writeback._rescore_parts`): the spill's
readers (`adbc_reader`), the processes that prepare the parts (`lifecycle_ahead`) and the one that
writes them. Its wall is their CPU shared over the cores, plus the time a core had nothing to run
because one process waited for another: that time shows on no CPU figure. With LEADSCORE_TIMELINE
naming a file, each process appends one JSON line per span to it (what, which part, start and end on
the system's monotonic clock, which every process reads alike); `idle` tells from them the seconds
where fewer processes had work than there are cores. Off (the default), `span` costs one environment
lookup.

Imports only the standard library: the reader program starts it.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

ENV = "LEADSCORE_TIMELINE"
# the spans during which their process has no work of its own: it waits for another process
WAITS = frozenset({"spill", "wait"})

__all__ = ["ENV", "WAITS", "idle", "read", "record", "span", "started"]


def record(role: str, what: str, t0: float, t1: float, part: int | None = None) -> None:
    """One span of this process appended to the timeline file, when there is one. A line is written in
    one `write` call of a file opened for appending, so the processes' lines do not mix."""
    path = os.environ.get(ENV)
    if not path:
        return
    line = json.dumps({"who": f"{role}:{os.getpid()}", "what": what, "part": part, "t0": t0, "t1": t1})
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


@contextmanager
def span(role: str, what: str, part: int | None = None) -> Iterator[None]:
    """The block's span recorded (`record`), also when it raises."""
    if not os.environ.get(ENV):
        yield
        return
    t0 = time.monotonic()
    try:
        yield
    finally:
        record(role, what, t0, time.monotonic(), part)


def started() -> float:
    """When this process started, on the monotonic clock (Linux: its start in /proc, counted from the
    boot as CLOCK_BOOTTIME counts), so a child's span includes its interpreter's start and imports,
    which are work; else now."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # the name, in parentheses, may hold spaces
        ticks = os.sysconf("SC_CLK_TCK")
        since_boot = int(fields[19]) / ticks  # the 22nd field of the whole line
        return time.monotonic() - (time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot)
    except (OSError, ValueError, IndexError, AttributeError):
        return time.monotonic()


def read(path: Path) -> list[dict[str, Any]]:
    """The spans of a timeline file (a line cut short by a process killed mid-write is left out)."""
    spans = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            spans.append(json.loads(line))
        except ValueError:
            continue
    return spans


def idle(
    spans: Iterable[dict[str, Any]], cores: int = 2, since: float | None = None, until: float | None = None
) -> dict[str, float]:
    """From `spans`: the processes with work at each instant between the first span's start and the
    last one's end (or `since` and `until`), and the seconds where fewer than `cores` had work
    (`under_cores_s`) and the cores left idle by them (`idle_core_s`: one second of two idle cores
    counts two). A process has work in a span not in WAITS, except while one of its own WAITS spans
    runs (the process that writes the parts records its whole run, and within it the spill and each
    wait for a part); spans nested in its own count once."""
    by_who: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        by_who.setdefault(s["who"], []).append(s)
    edges: list[tuple[float, int]] = []  # +1 where a process starts to have work, -1 where it stops
    for own in by_who.values():
        edges.extend(_working(own))
    if not edges:
        return {"seconds": 0.0, "under_cores_s": 0.0, "idle_core_s": 0.0}
    edges.sort()
    lo = edges[0][0] if since is None else since
    hi = edges[-1][0] if until is None else until
    edges = sorted([*edges, (lo, 0), (hi, 0)])  # the window's own ends, where no process works
    under = spare = 0.0
    busy = 0
    for (t, step), (t_next, _) in itertools.pairwise(edges):
        busy += step
        dt = min(t_next, hi) - max(t, lo)
        if busy < cores and dt > 0:
            under += dt
            spare += (cores - max(busy, 0)) * dt
    return {"seconds": max(hi - lo, 0.0), "under_cores_s": under, "idle_core_s": spare}


def _working(own: list[dict[str, Any]]) -> list[tuple[float, int]]:
    """One process's spans as the edges of its time with work: +1 where it begins, -1 where it ends."""
    points = []
    for s in own:
        wait = s["what"] in WAITS
        points.append((float(s["t0"]), 1, 1, wait))
        points.append((float(s["t1"]), 0, -1, wait))
    points.sort()  # at one instant, the ends before the starts
    work = waits = 0
    was = False
    out = []
    for t, _, step, wait in points:
        if wait:
            waits += step
        else:
            work += step
        now = work > 0 and waits == 0
        if now != was:
            out.append((t, 1 if now else -1))
            was = now
    return out
