"""Time of one page of `GET /v1/leads` (leadscore.app.lead_list) on a large store, per filter and sort.

Run: .venv/bin/python benchmarks/lead_list.py [--leads 100000] [--runs 5] [--postgres URL]

The store is filled directly with generated leads and results (names, e-mails, companies, labels,
stages, playbooks, scores with ties; 80% of leads scored), so its size is set in seconds. Each query
asks for a first page of 50 and, for the sorts, the page after a cursor half-way down; the table shows
the median and the slowest of `--runs` runs, and how many rows the page holds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from leadscore.app.lead_list import LeadFilter, Sort, list_leads  # noqa: E402
from leadscore.store import LeadStore, open_store  # noqa: E402
from leadscore.store.tables import leads, results  # noqa: E402

FIRST = ["Jane", "Ola", "Kari", "Jan", "Piet", "Zoë", "Søren", "Anna", "Lars", "Eva"]
COMPANIES = ["Acme", "Initech", "Hooli", "Umbrella", "Ørsted", "Philips", "Equinor", "Stark"]


def fill(store: LeadStore, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    for start in range(0, n, 10_000):
        lead_rows, result_rows = [], []
        for i in range(start, min(n, start + 10_000)):
            lead_id = f"lead-{i:07d}"
            company = rng.choice(COMPANIES)
            attrs = {"name": f"{rng.choice(FIRST)} {i}", "email": f"p{i}@{company.lower()}.com", "company": company}
            attrs["employees"] = rng.choice([5, 50, 150, 1200])
            lead_rows.append(
                {
                    "id": lead_id,
                    "attributes": attrs,
                    "account": f"{company.lower()}.com",
                    "created_at": 0,
                    "updated_at": rng.randrange(1_000_000),
                }
            )
            if rng.random() < 0.8:
                result_rows.append(
                    {
                        "lead_id": lead_id,
                        "model": "m",
                        "model_version": "v1",
                        "evaluated_at": 0,
                        "score": float(rng.randrange(-20, 120)),
                        "dimensions": {},
                        "labels": {"temperature": rng.choice(["hot", "warm", "cold"]), "fit": rng.choice("ABC")},
                        "stage": rng.choice(["lead", "mql", "sql", "opportunity"]),
                        "stage_history": [],
                        "playbook": rng.choice([{"name": "call-now", "priority": 1}, {"name": "nurture"}, None]),
                        "queue_rank": 1,
                        "breakdown": [],
                    }
                )
        with store.engine.begin() as conn:
            conn.execute(leads.insert(), lead_rows)
            conn.execute(results.insert(), result_rows)


QUERIES: list[tuple[str, LeadFilter, Sort]] = [
    ("no filter, score_desc", LeadFilter(), "score_desc"),
    ("no filter, id", LeadFilter(), "id"),
    ("no filter, updated_desc", LeadFilter(), "updated_desc"),
    ("label temperature:hot", LeadFilter(label="temperature:hot"), "score_desc"),
    ("playbook call-now", LeadFilter(playbook="call-now"), "score_desc"),
    ("stage sql + min_score 100", LeadFilter(stage="sql", min_score=100), "score_desc"),
    ("account acme.com", LeadFilter(account="acme.com"), "score_desc"),
    ("q 'ørsted' (common)", LeadFilter(q="ørsted"), "score_desc"),
    ("q 'p4242@' (rare)", LeadFilter(q="p4242@"), "score_desc"),
    ("q 'nobody' (no match)", LeadFilter(q="nobody"), "id"),
]


def timed(store: LeadStore, f: LeadFilter, sort: Sort, cursor: str | None, runs: int) -> tuple[list[float], Any]:
    times, page = [], None
    for _ in range(runs):
        start = time.perf_counter()
        with store.read() as conn:
            page = list_leads(conn, f, sort, 50, cursor)
        times.append((time.perf_counter() - start) * 1000)
    return times, page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL database URL (empty database) instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(args.postgres or f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.upgrade()
        start = time.perf_counter()
        fill(store, args.leads)
        print(f"{args.leads} leads on {store.engine.dialect.name} in {time.perf_counter() - start:.1f} s\n")
        print("| query | first page median / max ms | rows | deep page median / max ms |")
        print("|---|---|---|---|")
        for name, f, sort in QUERIES:
            first, page = timed(store, f, sort, None, args.runs)
            deep_cell = "–"
            if page is not None and page.next_cursor:
                with store.read() as conn:  # a cursor about half-way down
                    half = list_leads(conn, f, sort, min(500, max(1, args.leads // 400)), None)
                deep, _ = timed(store, f, sort, half.next_cursor, args.runs)
                deep_cell = f"{statistics.median(deep):.1f} / {max(deep):.1f}"
            rows = len(page.items) if page is not None else 0
            print(f"| {name} | {statistics.median(first):.1f} / {max(first):.1f} | {rows} | {deep_cell} |")
        store.dispose()


if __name__ == "__main__":
    main()
