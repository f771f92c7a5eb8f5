"""The bulk endpoint's body step alone: a 10,000-event body read and checked (`bulk_body.events_of`), then
the driver's rows made of what it gives (`events_repo.event_row_tuples`), CPU µs per event.

    PYTHONPATH=src .venv/bin/python benchmarks/bulk_body.py [--bodies 60]

The bodies are benchmarks/api_load.py's (new ids, 2,000 leads, one property); the collector is set as
in a server process (leadscore.api.heap). The code measured is whatever PYTHONPATH points at (another
tree's src/ for a before/after comparison). Medians (and minimums) over the bodies, each read once.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from typing import Any

from leadscore.api import heap
from leadscore.api.bulk_body import events_of
from leadscore.store.events_repo import event_row_tuples

SIZE = 10_000
LEADS = 2000
TYPES = ("page_view", "email_click", "content_download", "page_view")


def body(first: int) -> bytes:
    """A request as benchmarks/api_load.py sends it: new ids, spread over LEADS leads."""
    events: list[dict[str, Any]] = [
        {
            "id": uuid.uuid4().hex,
            "lead_id": f"B{n % LEADS:05d}",
            "type": TYPES[n % len(TYPES)],
            "timestamp": "2026-05-30T10:00:00Z",
            "properties": {"path": "/pricing" if n % 5 == 0 else "/blog"},
        }
        for n in range(first, first + SIZE)
    ]
    return json.dumps({"events": events}).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=60)
    args = parser.parse_args()
    raws = [body(i * SIZE) for i in range(8)]
    heap.settle()
    spent: dict[str, list[float]] = {"read and checked": [], "rows": [], "both": []}
    for i in range(args.bodies):
        raw = raws[i % len(raws)]
        start = time.process_time()
        events = events_of(raw, SIZE)
        read = time.process_time()
        assert events is not None, "the benchmark's body is valid"
        rows = event_row_tuples(events, {}, 0)
        done = time.process_time()
        assert len(rows) == SIZE
        spent["read and checked"].append(read - start)
        spent["rows"].append(done - read)
        spent["both"].append(done - start)
        del events, rows
    print(f"CPU µs per event, {args.bodies} bodies of {SIZE:,} events: median (minimum)")
    for name, times in spent.items():
        print(f"  {name:18s} {statistics.median(times) / SIZE * 1e6:5.2f} ({min(times) / SIZE * 1e6:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
