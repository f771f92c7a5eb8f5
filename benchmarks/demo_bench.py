"""Where the demo build's time goes: `build_demo` timed as a whole and per service call.

Run: PYTHONPATH=src python benchmarks/demo_bench.py [--leads 2000] [--dir /tmp/leadscore-demo-bench]
Prints the wall and CPU time of the build and of each kind of call it makes (ingest, refresh, webhook
deliveries, model applies); the figures go to benchmarks/results/demo.md by hand, with the load average.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

CALLS = ("ingest_leads", "ingest_events", "refresh", "deliver_webhooks", "apply_model")


def cpu() -> float:
    """CPU seconds of this process and of its finished children (the bulk paths' programs)."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def main() -> None:
    from leadscore.app.service import LeadService
    from leadscore.demo import build_demo

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "leadscore-demo-bench")
    args = parser.parse_args()
    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])

    def timed(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(call)
        def run(self: LeadService, *a: Any, **k: Any) -> Any:
            t, c = time.perf_counter(), cpu()
            try:
                return call(self, *a, **k)
            finally:
                row = spent[name]
                row[0] += 1
                row[1] += time.perf_counter() - t
                row[2] += cpu() - c

        return run

    for name in CALLS:
        setattr(LeadService, name, timed(name, getattr(LeadService, name)))
    shutil.rmtree(args.dir, ignore_errors=True)
    t, c = time.perf_counter(), cpu()
    stats = build_demo(args.dir, args.leads, seed=0)
    wall, used = time.perf_counter() - t, cpu() - c
    load = os.getloadavg()[0]
    print(f"{stats.leads} leads, {stats.events} events: wall {wall:.1f} s, cpu {used:.1f} s, load {load:.1f}")
    for name, (n, w, cp) in spent.items():
        print(f"  {name}: {n:.0f} calls, wall {w:.1f} s, cpu {cp:.1f} s")
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
