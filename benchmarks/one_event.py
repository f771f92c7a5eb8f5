"""One event to its persisted score, alone: the SQL statements it runs, its latency and CPU time, and
optionally a cProfile of it. Not timed by any test; a tool for the real-time path.

    .venv/bin/python benchmarks/one_event.py sqlite sync 300
    .venv/bin/python benchmarks/one_event.py postgres deferred 200 --profile

Data: `leadscore generate --leads 500` (about 25,000 B2B events), ingested and scored first; then
`n` single page views, each to a random lead, each scored (sync: in its transaction; deferred:
acknowledged, then the lead's drain as the API's rescoring process runs it) and read back, as
`store_ingest.py`'s latency figure measures them. Prints the statements of one such event (SQLAlchemy
`before_cursor_execute`; BEGIN on PostgreSQL and COMMIT are not statements there), then the median
and 99th percentile of the wall and CPU time (CPU: this process only, not PostgreSQL's).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from leadscore.app.service import LeadService  # noqa: E402
from leadscore.domain import Event  # noqa: E402
from leadscore.generate.api import generate  # noqa: E402
from leadscore.store import open_store  # noqa: E402

MODEL = ROOT / "examples" / "b2b-saas" / "model.yaml"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
LEADS = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=["sqlite", "postgres"])
    parser.add_argument("mode", choices=["sync", "deferred"])
    parser.add_argument("n", type=int, nargs="?", default=300)
    parser.add_argument("--profile", action="store_true", help="print the 40 costliest calls (cumulative)")
    parser.add_argument("--cpu", action="store_true", help="profile CPU time (process_time), not wall time")
    args = parser.parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        data = tmp / "data"
        generate("b2b", LEADS, data)
        if args.backend == "sqlite":
            url = f"sqlite:///{tmp / 'one.db'}"
        else:
            from tests.support.postgres import postgres_server

            url = stack.enter_context(postgres_server())
        store = open_store(url)
        store.upgrade()
        service = LeadService(store, model_path=MODEL, clock=lambda: NOW)
        service.upgrade()
        service.ingest_leads_file(data / "leads.parquet")
        for part in sorted((data / "events").glob("part-*.parquet")):
            service.ingest_events_file(part)
        defer = args.mode == "deferred"
        rnd = random.Random(1)

        def one(i: int) -> None:
            lead = f"L{rnd.randrange(1, LEADS + 1):07d}"
            event = Event.of(lead, "page_view", NOW - timedelta(minutes=i), path="/pricing", page_type="pricing")
            service.ingest_events([event], defer=defer)
            if defer:
                service.drain_pending()
            service.result(lead)

        statements: list[str] = []
        counting = [False]

        @sa.event.listens_for(store.engine, "before_cursor_execute")
        def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if counting[0]:
                statements.append(" ".join(statement.split())[:100])

        for i in range(30):  # warm up: compiled statements cached, prepared on PostgreSQL
            one(i)
        counting[0] = True
        one(30)
        counting[0] = False
        print(f"statements of one event ({len(statements)}):")
        for statement in statements:
            print("  ", statement)
        wall: list[float] = []
        cpu: list[float] = []
        profile = (cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()) if args.profile else None
        if profile:
            profile.enable()
        for i in range(args.n):
            t, c = time.perf_counter(), time.process_time()
            one(100 + i)
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        service.close()

    def q(values: list[float], p: float) -> float:
        return sorted(values)[min(len(values) - 1, int(p * len(values)))]

    print(
        f"{args.backend} {args.mode}, {args.n} events: wall p50 {q(wall, 0.5):.2f} p99 {q(wall, 0.99):.2f} ms, "
        f"CPU p50 {q(cpu, 0.5):.2f} p99 {q(cpu, 0.99):.2f} ms; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
