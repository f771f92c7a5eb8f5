"""Where the CPU of one bulk request goes: 10,000 events through the bulk route's steps, in process, on SQLite.

    .venv/bin/python benchmarks/bulk_profile.py              # CPU µs per event of each step, median of 5 requests
    .venv/bin/python benchmarks/bulk_profile.py --profile    # and a cProfile of one request (by own time)
    .venv/bin/python benchmarks/bulk_profile.py --backend postgres   # a local PostgreSQL server (its CPU too)

The steps are the ones `POST /v1/events/bulk` runs (leadscore.api.routes.events, leadscore.api.intake):
parse and validate the body whole into the domain events (leadscore.api.bulk_body), screen them
against the model, then store them in one transaction with their leads queued for rescoring (the
server's default, deferred rescoring).
The garbage collector is set as in a server process (leadscore.api.heap) once the leads exist. After
the requests, the queued leads are drained (`LeadService.drain_pending`, 200 leads a transaction, as the
rescoring process does) and that CPU is reported per event of the requests. On PostgreSQL the local
server's CPU is reported beside this process's. Not measured here: the HTTP layer (benchmarks/api_load.py
--only-bulk measures the whole server).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bulk_body import SIZE, body  # noqa: E402  (a request as benchmarks/api_load.py sends it)
from tests.api.server import make_workspace  # noqa: E402

from leadscore.api import heap  # noqa: E402
from leadscore.api.bulk_body import events_of  # noqa: E402
from leadscore.api.intake import screen  # noqa: E402
from leadscore.app.service import LeadService  # noqa: E402
from leadscore.app.workspace import Workspace  # noqa: E402


def one_request(service: LeadService, raw: bytes) -> dict[str, float]:
    """CPU seconds of each step of one bulk request."""
    spent: dict[str, float] = {}
    mark = time.process_time()

    def step(name: str) -> None:
        nonlocal mark
        now = time.process_time()
        spent[name] = now - mark
        mark = now

    events = events_of(raw, SIZE)
    assert events is not None, "the benchmark's body is valid"
    step("parse, validate, build the domain events")
    keep, _ = screen(service, events, partial=False, rejected=None, indexes=None, base=("body", "events"))
    step("screen against the model")
    done = service.ingest_events(keep, defer=True)
    step("store (one transaction, leads queued)")
    assert done.inserted == SIZE
    return spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one more request")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    from api_load import database, postmaster, server_cpu

    with tempfile.TemporaryDirectory() as tmp, database(args.backend) as url:
        service = LeadService.from_workspace(Workspace.load(make_workspace(Path(tmp) / "ws", url)))
        db = postmaster(url)
        try:
            one_request(service, body(0))  # the leads are created; later requests find them
            while service.drain_pending().taken:  # and scored, as after an earlier load
                pass
            heap.settle()
            bodies = [body((i + 1) * SIZE) for i in range(args.requests + 1)]
            db_start = server_cpu(db) if db else 0.0
            runs = [one_request(service, raw) for raw in bodies[: args.requests]]
            db_requests = server_cpu(db) - db_start if db else 0.0
            mark = time.process_time()
            while service.drain_pending().taken:
                pass
            drained, db_drain = time.process_time() - mark, server_cpu(db) - db_start - db_requests if db else 0.0
            events = args.requests * SIZE
            print(f"CPU µs per event, median of {args.requests} requests of {SIZE:,} events ({args.backend}):")
            for name in runs[0]:
                print(f"  {name:40s} {statistics.median(r[name] for r in runs) / SIZE * 1e6:6.2f}")
            total = statistics.median(sum(r.values()) for r in runs) / SIZE * 1e6
            print(f"  {'total':40s} {total:6.2f}")
            print(f"  {'then the drain of their leads':40s} {drained / events * 1e6:6.2f}")
            if db:
                print(f"  {'database server: the requests':40s} {db_requests / events * 1e6:6.2f}")
                print(f"  {'database server: the drain':40s} {db_drain / events * 1e6:6.2f}")
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                one_request(service, bodies[-1])
                profile.disable()
                pstats.Stats(profile).sort_stats("tottime").print_stats(20)
        finally:
            service.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
