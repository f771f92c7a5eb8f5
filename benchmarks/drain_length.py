"""The rescoring drain's CPU against the length of the drained leads' timelines (the API's deferred intake).

    PYTHONPATH=src .venv/bin/python benchmarks/drain_length.py [--lengths 1 25 50 100] [--leads 2000]
        [--rounds 3] [--backend sqlite|postgres]

For each length K: a fresh store (SQLite in a temporary folder, or a fresh local PostgreSQL server,
tests/support/postgres.py) with the
workspace's example model, `--leads` leads holding K events each (the shape of benchmarks/api_load.py's
events: one timestamp for all, a page view, an e-mail click or a download, a fifth of them on
/pricing), ingested deferred and drained; the process's heap settled as the rescoring process settles
it (leadscore.api.heap). Then `--rounds` rounds: one new event for every lead, queued, and drained as
the rescoring worker drains a backlog (drains of 200 leads). Printed per length: CPU ms per drain and
µs per lead, the garbage collector's share, and the drains' copies of timelines (hits: read from a copy
and the events appended since; extended: the copy's engine timeline extended rather than built).
Compare two trees by pointing PYTHONPATH at each one's src.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.api.server import make_workspace  # noqa: E402

from leadscore.api import heap  # noqa: E402
from leadscore.app.service import LeadService  # noqa: E402
from leadscore.app.workspace import Workspace  # noqa: E402
from leadscore.domain import Event  # noqa: E402
from leadscore.domain.timeutil import to_micros  # noqa: E402
from leadscore.store.timeline_cache import for_store  # noqa: E402

TYPES = ("page_view", "email_click", "content_download", "page_view")
TS = to_micros(datetime(2026, 5, 30, 10, tzinfo=UTC))  # api_load's one timestamp
DRAIN = 200


class Events:
    def __init__(self) -> None:
        self.n = 0

    def one(self, lead: int) -> Event:
        self.n += 1
        path = "/pricing" if self.n % 5 == 0 else "/blog"
        return Event.stored(f"B{lead:05d}", TYPES[self.n % 4], TS, {"path": path}, uuid.uuid4().hex)


class GcClock:
    """CPU seconds spent in the garbage collector's collections."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.seconds += time.process_time() - self._start


def measure(length: int, leads: int, rounds: int, kind: str, folder: Path, clock: GcClock) -> dict[str, float]:
    from benchmarks.api_load import database  # a fresh local PostgreSQL server, as the API benchmark's

    with database(kind) as url:
        return _measure(length, leads, rounds, url, folder / f"ws{length}", clock)


def _measure(length: int, leads: int, rounds: int, store: str | None, root: Path, clock: GcClock) -> dict[str, float]:
    make_workspace(root, store)
    service = LeadService.from_workspace(Workspace.load(root))
    try:
        service.current_evaluator()
        heap.settle()
        made = Events()
        backlog = [made.one(lead) for _ in range(length) for lead in range(leads)]
        for start in range(0, len(backlog), 10_000):
            service.ingest_events(backlog[start : start + 10_000], defer=True)
        while service.drain_pending(DRAIN, which="backlog").taken:
            pass
        cache = for_store(service.store)
        hits, extended = cache.hits, getattr(cache, "extended", 0)
        cpu, drains, taken = 0.0, 0, 0
        clock.seconds = 0.0
        for _ in range(rounds):
            service.ingest_events([made.one(lead) for lead in range(leads)], defer=True)
            started = time.process_time()
            while done := service.drain_pending(DRAIN, which="backlog").taken:
                drains += 1
                taken += done
            cpu += time.process_time() - started
        return {
            "length": length,
            "drain_ms": cpu / drains * 1000,
            "lead_us": cpu / taken * 1e6,
            "gc_ms": clock.seconds / drains * 1000,
            "hits": (cache.hits - hits) / taken,
            "extended": (getattr(cache, "extended", 0) - extended) / taken,
        }
    finally:
        service.close()
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="*", default=[1, 25, 50, 100])
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    clock = GcClock()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.backend}, load average {load}; {args.leads} leads, drains of {DRAIN}")
    print("| events a lead | CPU ms / drain | µs / lead | of which GC ms / drain | copies read | extended |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for length in args.lengths:
            f = measure(length, args.leads, args.rounds, args.backend, Path(tmp), clock)
            print(
                f"| {f['length']} | {f['drain_ms']:.1f} | {f['lead_us']:.0f} | {f['gc_ms']:.1f} "
                f"| {f['hits']:.0%} | {f['extended']:.0%} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
