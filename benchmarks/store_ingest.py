"""Store benchmarks on generator data: file ingest (events/s), re-run of the same file, one event to an
updated score (latency), time-driven refresh and model apply; SQLite and PostgreSQL.

    .venv/bin/python benchmarks/store_ingest.py --quick             # small sizes, under a minute
    .venv/bin/python benchmarks/store_ingest.py --leads 20000 --runs 3   # about 1M events

Data: `leadscore generate --leads N` (B2B, about 50 events per lead), scored by
examples/b2b-saas/model.yaml, which is written for the generator's vocabulary (lifecycle, decay,
windows, three triggers). Every ingest is the CLI's path: strict (a check pass over the whole file,
then the write pass), 10,000 events per transaction, each batch rescoring its leads. PostgreSQL is a
fresh local server (tests/support/postgres.py: fsync off). Figures are medians over `--runs` runs,
each on a fresh database; the markdown goes to benchmarks/results/store.md.
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
def database(kind: str, tmp: Path, run: int) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{run}.db'}"
        return
    from tests.support.postgres import postgres_server

    with postgres_server() as url:
        yield url


def one_run(kind: str, data: Path, tmp: Path, run: int, latency_n: int, workers: int) -> dict[str, float]:
    """Every figure of one run on a fresh database."""
    parts = sorted((data / "events").glob("part-*.parquet"))
    out: dict[str, float] = {}
    with database(kind, tmp, run) as url:
        store = open_store(url)
        store.upgrade()
        clock = [NOW]
        service = LeadService(store, model_path=MODEL, clock=lambda: clock[0], workers=workers)
        service.upgrade()
        t0 = time.perf_counter()
        leads = service.ingest_leads_file(data / "leads.parquet")
        out["leads_s"], out["leads"] = time.perf_counter() - t0, leads.rows
        t0 = time.perf_counter()
        inserted = rescored = 0
        for part in parts:
            report = service.ingest_events_file(part)
            inserted, rescored = inserted + report.inserted, rescored + report.rescored
        out["events_s"], out["events"], out["rescored"] = time.perf_counter() - t0, inserted, rescored
        t0 = time.perf_counter()
        again = sum(service.ingest_events_file(part).inserted for part in parts)
        out["rerun_s"] = time.perf_counter() - t0
        assert again == 0, "a re-run stored events twice"
        rnd = random.Random(run)
        lat: list[float] = []
        n_leads = int(out["leads"])
        for i in range(latency_n):
            lead = f"L{rnd.randrange(1, n_leads + 1):07d}"
            e = Event.of(lead, "page_view", NOW - timedelta(minutes=i), path="/pricing", page_type="pricing")
            t1 = time.perf_counter()
            service.ingest_events([e])
            lat.append((time.perf_counter() - t1) * 1000)
        lat.sort()
        out["p50_ms"], out["p99_ms"] = statistics.median(lat), lat[max(0, int(len(lat) * 0.99) - 1)]
        out["latency_n"] = latency_n
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


def machine() -> str:
    """CPU, cores and the load when the run started: the figures are for a machine shared with other work."""
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "unknown CPU")
    load = os.getloadavg()[0]
    return f"{cpu}, {os.cpu_count()} cores, load average {load:.1f} at the start; Python {platform.python_version()}"


def table(kind: str, runs: list[dict[str, float]]) -> list[str]:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    events, leads = med("events"), med("leads")
    return [
        f"| {kind} | ingest leads (Parquet) | {leads:,.0f} leads | {med('leads_s'):.1f} s | "
        f"{leads / med('leads_s'):,.0f} leads/s |",
        f"| {kind} | ingest events (strict: check + write) | {events:,.0f} events, {med('rescored'):,.0f} "
        f"lead rescorings | {med('events_s'):.1f} s | **{events / med('events_s'):,.0f} events/s** |",
        f"| {kind} | same files again (all duplicates) | {events:,.0f} events | {med('rerun_s'):.1f} s | "
        f"{events / med('rerun_s'):,.0f} events/s |",
        f"| {kind} | one event to updated score (p50 / p99) | {med('latency_n'):,.0f} events, one at a time | | "
        f"{med('p50_ms'):.1f} ms / {med('p99_ms'):.1f} ms |",
        f"| {kind} | refresh 7 days later | {med('refresh_leads'):,.0f} of {leads:,.0f} leads due | "
        f"{med('refresh_s'):.1f} s | {med('refresh_leads') / med('refresh_s'):,.0f} leads/s |",
        f"| {kind} | model apply | {med('apply_leads'):,.0f} leads | {med('apply_s'):.1f} s | "
        f"{med('apply_leads') / med('apply_s'):,.0f} leads/s |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500 leads (about 25k events), one run")
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--latency", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workers", type=int, default=0, help="scoring processes (settings.workers)")
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
        f"fresh database; 10,000 events per transaction; {args.workers} scoring processes.",
        "",
        "| store | what | size | time | rate |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        data = tmp / "data"
        generate("b2b", args.leads, data)
        for kind in kinds:
            runs = []
            for run in range(args.runs):
                runs.append(one_run(kind, data, tmp, run, args.latency, args.workers))
                sys.stderr.write(f"{kind} run {run + 1}: {runs[-1]}\n")
            rows = table(kind, runs)
            lines.extend(rows)
            for row in rows:
                print(row, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
