"""One event to its persisted score, alone: the SQL statements it runs, its latency and CPU time, and
optionally a cProfile of it. Not timed by any test; a tool for the real-time path.

    .venv/bin/python benchmarks/one_event.py sqlite sync 300
    .venv/bin/python benchmarks/one_event.py postgres deferred 200 --profile
    .venv/bin/python benchmarks/one_event.py postgres sync 200 --floor
    .venv/bin/python benchmarks/one_event.py postgres readback 200

Data: `leadscore generate --leads 500` (about 25,000 B2B events), ingested and scored first; then
`n` single page views, each to a random lead: sync, each scored in its transaction and read back, as
`store_ingest.py`'s latency figure measures them; deferred, acknowledged, then the lead's drain as
the API's rescoring process runs it, and read back; readback, as sync, the result read back by the
ingest itself (`ingest_events(..., results=True)`: in the transaction, after its writes, returned
once committed); append, the API's acknowledgement alone (the group committer's
`queued_append.append_queued`: stored, the lead queued, nothing scored or read). Prints the
statements SQLAlchemy sent for one such event (`before_cursor_execute`: not BEGIN and COMMIT, nor what
goes on the driver itself), on PostgreSQL the statements and round trips of libpq's protocol trace,
then the median and 99th percentile of the wall and CPU time (CPU: this process only), and on PostgreSQL
the server's CPU per event (postmaster and backends, from /proc: 10 ms ticks, so a few hundred events).
`--floor` (PostgreSQL) first measures a bare round trip and a bare commit.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
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
from benchmarks.api_load import postmaster, server_cpu  # noqa: E402

from leadscore.app.service import LeadService  # noqa: E402
from leadscore.domain import Event  # noqa: E402
from leadscore.generate.api import generate  # noqa: E402
from leadscore.store import open_store  # noqa: E402
from leadscore.store.queued_append import append_queued  # noqa: E402

MODEL = ROOT / "examples" / "b2b-saas" / "model.yaml"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
LEADS = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("backend", choices=["sqlite", "postgres"])
    parser.add_argument("mode", choices=["sync", "readback", "deferred", "append"])
    parser.add_argument("n", type=int, nargs="?", default=300)
    parser.add_argument("--profile", action="store_true", help="print the 40 costliest calls (cumulative)")
    parser.add_argument("--cpu", action="store_true", help="profile CPU time (process_time), not wall time")
    parser.add_argument(
        "--floor", action="store_true", help="postgres: first the floor, a bare `SELECT 1` and INSERT + COMMIT"
    )
    args = parser.parse_args()
    if args.floor and args.backend == "postgres":
        floor()
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
            if args.mode == "append":  # the API's acknowledgement alone: the group committer's append
                append_queued(store, [event], service.now_us)
                return
            if args.mode == "readback":
                found = service.ingest_events([event], results=True).results
                assert found is not None and found[lead].at == NOW  # the lead's result, as committed
                return
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

        trace = tmp / "protocol.txt"
        if args.backend == "postgres":
            _trace_protocol(store.engine, trace, counting)
        for i in range(30):  # warm up: compiled statements cached, prepared on PostgreSQL
            one(i)
        counting[0] = True
        one(30)
        counting[0] = False
        print(f"statements of one event through SQLAlchemy ({len(statements)}):")
        for statement in statements:
            print("  ", statement)
        if args.backend == "postgres":
            print(_round_trips(trace.read_text()))
        wall: list[float] = []
        cpu: list[float] = []
        profile = (cProfile.Profile(time.process_time) if args.cpu else cProfile.Profile()) if args.profile else None
        if profile:
            profile.enable()
        # PostgreSQL's own CPU (postmaster and backends, /proc) over the measured events: the round trips'
        # waiting is mostly the server's work, which this process's CPU time does not show
        db = postmaster(url) if args.backend == "postgres" else 0
        db_cpu = server_cpu(db) if db else 0.0
        for i in range(args.n):
            t, c = time.perf_counter(), time.process_time()
            one(100 + i)
            wall.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
        db_cpu = (server_cpu(db) - db_cpu) * 1000 / args.n if db else float("nan")
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        service.close()

    print(
        f"{args.backend} {args.mode}, {args.n} events: wall p50 {_q(wall, 0.5):.2f} p99 {_q(wall, 0.99):.2f} ms, "
        f"CPU p50 {_q(cpu, 0.5):.2f} p99 {_q(cpu, 0.99):.2f} ms, server CPU {db_cpu:.2f} ms per event; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def _trace_protocol(engine: sa.Engine, path: Path, counting: list[bool]) -> None:
    """While `counting`, the messages of every connection checked out go to `path` (libpq's trace):
    the statements the driver sends itself are counted too, which SQLAlchemy's events do not see."""
    from psycopg.pq import Trace

    out = path.open("w")

    @sa.event.listens_for(engine, "checkout")
    def _on(dbapi_conn: Any, *_: Any) -> None:
        if counting[0]:
            dbapi_conn.pgconn.trace(out.fileno())
            dbapi_conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)

    @sa.event.listens_for(engine, "checkin")
    def _off(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.pgconn.untrace()


def _round_trips(text: str) -> str:
    """Statements (Bind or simple Query messages) and round trips: each time the trace turns from the
    client's messages to the server's, the client sent something and waited for the answer."""
    lines = [line.split("\t") for line in text.splitlines() if line[:2] in ("F\t", "B\t")]
    statements = sum(1 for line in lines if line[0] == "F" and line[2].split(" ")[0] in ("Bind", "Query"))
    trips = sum(1 for a, b in itertools.pairwise(lines) if a[0] == "F" and b[0] == "B")
    return f"protocol of one event: {statements} statements (BEGIN and COMMIT if sent), {trips} round trips"


def floor(n: int = 1000) -> None:
    """What a round trip and a commit cost by themselves, on the driver, from this process: on the
    benchmark's server (fsync and synchronous_commit off, as every test server) and on one with the
    default, durable settings, where each commit waits for the WAL's flush to this disk."""
    import psycopg
    from tests.support.postgres import postgres_server

    for durable in (False, True):
        with postgres_server(durable=durable) as url, psycopg.connect(url.replace("+psycopg", "")) as conn:
            conn.execute("CREATE TABLE t (id bigserial PRIMARY KEY, v text)")
            conn.commit()
            for name, step in (
                ("SELECT 1", lambda: conn.execute("SELECT 1").fetchone()),
                ("INSERT + COMMIT", lambda: (conn.execute("INSERT INTO t (v) VALUES (%s)", ("x",)), conn.commit())),
            ):
                wall, cpu = _timed(step, n)
                server = "durable server" if durable else "benchmark server (fsync off)"
                print(
                    f"floor, {server}: {name}: wall p50 {_q(wall, 0.5):.3f} p99 {_q(wall, 0.99):.3f} ms, "
                    f"CPU p50 {_q(cpu, 0.5):.3f} ms"
                )


def _timed(step: Any, n: int) -> tuple[list[float], list[float]]:
    for _ in range(50):
        step()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        step()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def _q(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(p * len(values)))]


if __name__ == "__main__":
    main()
