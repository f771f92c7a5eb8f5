"""Store benchmarks: ingest throughput, per-event latency to an updated score, refresh and model apply.

    .venv/bin/python benchmarks/store_ingest.py --events 100000 --leads 10000 [--postgres] [--out FILE]

Data are random (seeded): events spread over 90 days across `--leads` leads, leads with a few
attributes. Figures are written as markdown (default benchmarks/results/store.md, appended).
"""

from __future__ import annotations

import argparse
import csv
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

from leadscore.domain import Event  # noqa: E402
from leadscore.service import LeadService  # noqa: E402
from leadscore.store import open_store  # noqa: E402

MODEL = ROOT / "src" / "leadscore" / "store" / "example_model.yaml"
START = datetime(2026, 1, 1, tzinfo=UTC)
TYPES = ["page_view"] * 6 + ["email_click", "content_download", "demo_request"]
PATHS = ["/", "/blog/a", "/pricing", "/docs", "/product"]


def write_events(path: Path, n_events: int, n_leads: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "lead_id", "type", "timestamp", "path"])
        for i in range(n_events):
            t = START + timedelta(seconds=int(90 * 86400 * i / n_events))
            typ = rnd.choice(TYPES)
            w.writerow([f"e{i}", f"L{rnd.randrange(n_leads):07d}", typ, t.isoformat(), rnd.choice(PATHS)])


def write_leads(path: Path, n_leads: int, seed: int = 2) -> None:
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "email", "employees", "title"])
        for i in range(n_leads):
            title = rnd.choice(["Director", "Engineer", "VP Sales", "Analyst"])
            w.writerow(
                [f"L{i:07d}", f"p{i}@c{rnd.randrange(n_leads // 5 + 1)}.example", rnd.choice([5, 150, 5000]), title]
            )


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    from tests.support.postgres import postgres_server

    with postgres_server() as url:
        yield url


def run(kind: str, n_events: int, n_leads: int, latency_n: int) -> list[str]:
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as d, database(kind, Path(d)) as url:
        tmp = Path(d)
        events_csv, leads_csv = tmp / "events.csv", tmp / "leads.csv"
        write_events(events_csv, n_events, n_leads)
        write_leads(leads_csv, n_leads)
        store = open_store(url)
        store.upgrade()
        now = START + timedelta(days=91)
        service = LeadService(store, model_path=MODEL, clock=lambda: now)
        service.upgrade()
        t0 = time.perf_counter()
        service.ingest_leads_file(leads_csv)
        t_leads = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = service.ingest_events_file(events_csv)
        t_events = time.perf_counter() - t0
        rows.append(
            f"| {kind} | ingest leads | {n_leads:,} leads | {t_leads:.1f} s | {n_leads / t_leads:,.0f} leads/s |"
        )
        rows.append(
            f"| {kind} | ingest events (strict: check pass + write pass) | {report.inserted:,} events, "
            f"{n_leads:,} leads | {t_events:.1f} s | {report.inserted / t_events:,.0f} events/s |"
        )
        lat = []
        rnd = random.Random(3)
        for i in range(latency_n):
            e = Event.of(f"L{rnd.randrange(n_leads):07d}", "page_view", now - timedelta(minutes=i), path="/pricing")
            t0 = time.perf_counter()
            service.ingest_events([e])
            lat.append((time.perf_counter() - t0) * 1000)
        lat.sort()
        p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
        rows.append(
            f"| {kind} | one event to updated score (p50 / p99) | {latency_n} events | | {p50:.1f} ms / {p99:.1f} ms |"
        )
        later = now + timedelta(days=7)
        service.clock = lambda: later
        t0 = time.perf_counter()
        done = service.refresh()
        rows.append(
            f"| {kind} | refresh after 7 days | {done.leads:,} of {n_leads:,} leads due | "
            f"{time.perf_counter() - t0:.1f} s | |"
        )
        new_model = tmp / "new.yaml"
        new_model.write_text(MODEL.read_text().replace("points: 40", "points: 45"), encoding="utf-8")
        t0 = time.perf_counter()
        applied = service.apply_model(new_model)
        rows.append(f"| {kind} | model apply | {applied.rescored.leads:,} leads | {time.perf_counter() - t0:.1f} s | |")
        store.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--latency", type=int, default=300)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "store.md")
    args = parser.parse_args()
    kinds = [k for k, on in (("sqlite", args.sqlite), ("postgres", args.postgres)) if on] or ["sqlite"]
    lines = [
        f"\n## {args.events:,} events, {args.leads:,} leads ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n",
        "| store | what | size | time | rate |",
        "|---|---|---|---|---|",
    ]
    for kind in kinds:
        for row in run(kind, args.events, args.leads, args.latency):
            lines.append(row)
            sys.stderr.write(row + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
