"""Store benchmarks on generator data: file ingest (events/s), re-run of the same file, one event to an
updated score (latency), time-driven refresh and model apply; SQLite and PostgreSQL.

    .venv/bin/python benchmarks/store_ingest.py --quick             # small sizes, under a minute
    .venv/bin/python benchmarks/store_ingest.py --leads 20000 --runs 3   # about 1M events

Data: `leadscore generate --leads N` (B2B, about 50 events per lead), scored by
examples/b2b-saas/model.yaml, which is written for the generator's vocabulary (lifecycle, decay,
windows, three triggers). Every ingest is the CLI's path: strict (the whole file checked before
anything is written), 10,000 events per batch; a file of 50,000 events or more is read once, its check
pass staging the rows, which SQL then moves into the log with their leads queued, rescored once in
bulk at the end (store/files.py, store/file_stage.py; a Parquet file's plain batches converted by column,
io/event_rows.py); a smaller one is written batch by batch, each
rescoring its leads. PostgreSQL is a fresh local server (tests/support/postgres.py: fsync off).
Figures are medians over `--runs` runs, each on a fresh database; the markdown goes to
benchmarks/results/store.md. Beside each wall time, the CPU time of this process (what an unshared
machine would show of it: its threads and ended children), and PostgreSQL's (server and backends, from
/proc) beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from leadscore.app.service import LeadService  # noqa: E402
from leadscore.domain import Event  # noqa: E402
from leadscore.generate.api import generate  # noqa: E402
from leadscore.store import open_store  # noqa: E402

MODEL = ROOT / "examples" / "b2b-saas" / "model.yaml"
NOW = datetime(2026, 6, 1, tzinfo=UTC)  # the generator's default end: every event is in the past


@contextmanager
def database(kind: str, tmp: Path, name: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{name}.db'}"
        return
    from tests.support.postgres import postgres_server

    with postgres_server() as url:
        yield url


def one_run(
    kind: str, data: Path, tmp: Path, run: int, latency_n: int, workers: int, defer: bool, maintenance: bool
) -> dict[str, float]:
    """Every figure of one run on a fresh database. `defer`: the events are stored with their leads
    queued for rescoring (the API's intake), and the queue is drained after (timed apart)."""
    parts = sorted((data / "events").glob("part-*.parquet"))
    out: dict[str, float] = {}
    deferred = {"defer": True} if defer else {}  # (sync passes nothing: the script also runs on older code)
    with database(kind, tmp, f"{run}-{'deferred' if defer else 'sync'}") as url:
        store = open_store(url)
        store.upgrade()
        clock = [NOW]
        service = LeadService(store, model_path=MODEL, clock=lambda: clock[0], workers=workers)
        service.upgrade()
        t0 = time.perf_counter()
        leads = service.ingest_leads_file(data / "leads.parquet")
        out["leads_s"], out["leads"] = time.perf_counter() - t0, leads.rows
        # imported here, once leadscore is: api_load puts this tree's src first on sys.path, which
        # must not decide which code a run of older code (PYTHONPATH) measures
        from benchmarks.api_load import postmaster, server_cpu

        db = postmaster(url) if kind == "postgres" else 0
        t0, c0, s0 = time.perf_counter(), cpu_s(), server_cpu(db) if db else 0.0
        inserted = rescored = 0
        for part in parts:
            report = service.ingest_events_file(part, **deferred)
            inserted, rescored = inserted + report.inserted, rescored + report.rescored
        out["events_s"], out["events"], out["rescored"] = time.perf_counter() - t0, inserted, rescored
        out["events_cpu"] = cpu_s() - c0
        if db:
            out["events_db_cpu"] = server_cpu(db) - s0
        if defer:
            t0, c0 = time.perf_counter(), time.process_time()
            while (drained := service.drain_pending(limit=500)).taken:
                out["rescored"] += drained.rescored.leads
            out["drain_s"], out["drain_cpu"] = time.perf_counter() - t0, time.process_time() - c0
        t0, c0, s0 = time.perf_counter(), cpu_s(), server_cpu(db) if db else 0.0
        again = sum(service.ingest_events_file(part, **deferred).inserted for part in parts)
        out["rerun_s"], out["rerun_cpu"] = time.perf_counter() - t0, cpu_s() - c0
        if db:
            out["rerun_db_cpu"] = server_cpu(db) - s0
        assert again == 0, "a re-run stored events twice"
        rnd = random.Random(run)
        lat: list[float] = []
        ack: list[float] = []
        cpu: list[float] = []
        n_leads = int(out["leads"])
        for i in range(latency_n):
            lead = f"L{rnd.randrange(1, n_leads + 1):07d}"
            e = Event.of(lead, "page_view", NOW - timedelta(minutes=i), path="/pricing", page_type="pricing")
            t1, c1 = time.perf_counter(), time.process_time()
            service.ingest_events([e], **deferred)
            t2 = time.perf_counter()
            if defer:  # what the rescoring worker does next: this lead is the whole queue
                service.drain_pending()
            found = service.result(lead)  # the persisted result, read back
            assert found is not None
            lat.append((time.perf_counter() - t1) * 1000)
            cpu.append((time.process_time() - c1) * 1000)
            ack.append((t2 - t1) * 1000)
        out["p50_ms"], out["p99_ms"] = percentile(lat, 0.5), percentile(lat, 0.99)
        out["cpu_p50_ms"], out["cpu_p99_ms"] = percentile(cpu, 0.5), percentile(cpu, 0.99)
        out["ack_p50_ms"], out["ack_p99_ms"] = percentile(ack, 0.5), percentile(ack, 0.99)
        out["latency_n"] = latency_n
        if maintenance:
            clock[0] = NOW + timedelta(days=7)
            t0 = time.perf_counter()
            done = service.refresh()
            out["refresh_s"], out["refresh_leads"] = time.perf_counter() - t0, done.leads
            new_model = tmp / "new.yaml"
            new_model.write_text(MODEL.read_text().replace("points: 80}", "points: 90}"), encoding="utf-8")
            t0 = time.perf_counter()
            applied = service.apply_model(new_model)
            out["apply_s"], out["apply_leads"] = time.perf_counter() - t0, applied.rescored.leads
        service.close()
    return out


def cpu_s() -> float:
    """CPU seconds of this process (its threads: DuckDB's) and of its children that ended (a writer
    program)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * q + 0.5) - 1))] if ordered else float("nan")


def machine() -> str:
    """CPU, cores and the load when the run started: the figures are for a machine shared with other work."""
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "unknown CPU")
    load = os.getloadavg()[0]
    return f"{cpu}, {os.cpu_count()} cores, load average {load:.1f} at the start; Python {platform.python_version()}"


# the targets: events/s of the 1M-event ingest per backend; one event to its persisted score
TARGET_RATE = {"sqlite": 50_000, "postgres": 40_000}
TARGET_P50_MS, TARGET_P99_MS = 2.0, 10.0


def table(kind: str, runs: list[dict[str, float]], defer: bool) -> list[str]:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    def verdict(ok: bool) -> str:
        return "met" if ok else "not met"

    def cpu(key: str) -> str:
        """The CPU time of this process beside a wall time (what an unshared machine would show), and
        PostgreSQL's (its server and backends) where measured."""
        if key not in runs[0]:
            return ""
        db = key.replace("_cpu", "_db_cpu")
        server = f" + server {med(db):.1f} s" if db in runs[0] else ""
        return f" (CPU {med(key):.1f} s{server})"

    cpu_ms = f" (CPU {med('cpu_p50_ms'):.1f} / {med('cpu_p99_ms'):.1f})" if "cpu_p50_ms" in runs[0] else ""

    events, leads = med("events"), med("leads")
    rate, goal = events / med("events_s"), TARGET_RATE.get(kind, 0)
    p50, p99 = med("p50_ms"), med("p99_ms")
    latency = f"p50 < {TARGET_P50_MS:.0f} ms, p99 < {TARGET_P99_MS:.0f} ms"
    mode = "deferred" if defer else "sync"
    rows = [
        f"| {kind} | {mode} | ingest leads (Parquet) | {leads:,.0f} leads | {med('leads_s'):.1f} s | "
        f"{leads / med('leads_s'):,.0f} leads/s | |"
    ]
    if defer:
        total = med("events_s") + med("drain_s")
        rows += [
            f"| {kind} | deferred | ingest events: stored, leads queued (strict) | {events:,.0f} events "
            f"| {med('events_s'):.1f} s{cpu('events_cpu')} | **{rate:,.0f} events/s** | "
            f"{goal:,} ({verdict(rate >= goal)}) |",
            f"| {kind} | deferred | drain the queue (rescore every lead once) | {med('rescored'):,.0f} leads | "
            f"{med('drain_s'):.1f} s{cpu('drain_cpu')} | {med('rescored') / med('drain_s'):,.0f} leads/s | |",
            f"| {kind} | deferred | ingest events to all scored | {events:,.0f} events | {total:.1f} s | "
            f"**{events / total:,.0f} events/s** | {goal:,} ({verdict(events / total >= goal)}) |",
        ]
    else:
        rows.append(
            f"| {kind} | sync | ingest events, scored (strict) | {events:,.0f} events, "
            f"{med('rescored'):,.0f} lead rescorings | {med('events_s'):.1f} s{cpu('events_cpu')} | "
            f"**{rate:,.0f} events/s** | "
            f"{goal:,} ({verdict(rate >= goal)}) |"
        )
    rows += [
        f"| {kind} | {mode} | same files again (all duplicates) | {events:,.0f} events | "
        f"{med('rerun_s'):.1f} s{cpu('rerun_cpu')} | "
        f"{events / med('rerun_s'):,.0f} events/s | |",
        f"| {kind} | {mode} | one event to its persisted, updated score (p50 / p99) | {med('latency_n'):,.0f} events, "
        f"one at a time | | {p50:.1f} ms / {p99:.1f} ms{cpu_ms} | {latency} "
        f"({verdict(p50 < TARGET_P50_MS and p99 < TARGET_P99_MS)}) |",
    ]
    if defer:
        rows.append(
            f"| {kind} | deferred | one event acknowledged (stored, lead queued; p50 / p99) | "
            f"{med('latency_n'):,.0f} events | | {med('ack_p50_ms'):.1f} ms / {med('ack_p99_ms'):.1f} ms | |"
        )
    if "refresh_s" in runs[0]:
        rows += [
            f"| {kind} | {mode} | refresh 7 days later | {med('refresh_leads'):,.0f} of {leads:,.0f} leads due | "
            f"{med('refresh_s'):.1f} s | {med('refresh_leads') / med('refresh_s'):,.0f} leads/s | |",
            f"| {kind} | {mode} | model apply | {med('apply_leads'):,.0f} leads | {med('apply_s'):.1f} s | "
            f"{med('apply_leads') / med('apply_s'):,.0f} leads/s | |",
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 leads (about 25k events), one run")
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--latency", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workers", type=int, default=0, help="scoring processes (settings.workers)")
    parser.add_argument(
        "--modes", default="sync,deferred", help="sync (rescored per batch), deferred (queued, drained)"
    )
    parser.add_argument("--no-maintenance", action="store_true", help="skip refresh and model apply")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "store.md")
    args = parser.parse_args()
    if args.quick:
        args.leads, args.runs, args.latency = 500, 1, 100
    kinds = [k.strip() for k in args.backends.split(",") if k.strip()]
    lines = [
        "## Store: ingest, latency, refresh, model apply",
        "",
        f"Machine: {machine()}.",
        "",
        f"Command: `python benchmarks/store_ingest.py {' '.join(sys.argv[1:])}`. Data: `leadscore generate "
        f"--leads {args.leads}`; model examples/b2b-saas/model.yaml; medians of {args.runs} run(s), each on a "
        f"fresh database; 10,000 events per transaction; {args.workers} scoring processes. Modes: sync = the CLI's "
        "`leadscore ingest` (a file of 50,000 events or more stored with its leads queued, then rescored once in "
        "bulk; a smaller one rescored batch by batch); deferred = events stored "
        "with their leads queued, the queue drained after (the API's intake and its rescoring worker).",
        "",
        "| store | mode | what | size | time | rate | target |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        data = tmp / "data"
        generate("b2b", args.leads, data)
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        for kind in kinds:
            for mode in modes:
                runs = []
                for run in range(args.runs):
                    runs.append(
                        one_run(
                            kind,
                            data,
                            tmp,
                            run,
                            args.latency,
                            args.workers,
                            mode == "deferred",
                            not args.no_maintenance,
                        )
                    )
                    sys.stderr.write(f"{kind} {mode} run {run + 1}: {runs[-1]}\n")
                rows = table(kind, runs, mode == "deferred")
                lines.extend(rows)
                for row in rows:
                    print(row, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
