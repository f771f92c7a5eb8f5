"""`model apply` after a model change on a large store that already exists (SQLite or PostgreSQL), such
as the 1M-lead / 50M-event store `dashboard_bench.py` makes in minutes by copying a demo store inside the
database, where `store_rescore.py` would load a generated file through the ingest's rows (about 30
minutes for 300k leads). `dashboard_bench.py --rescore-runs N` runs it on its stores after the pages.

Run: .venv/bin/python benchmarks/rescore_large.py URL [--lifecycle] [--runs 3] [--pg-data DIR]
     .venv/bin/python benchmarks/rescore_large.py --pg-dir DIR [--lifecycle] [--runs 3]
(`--pg-dir`: the folder of a PostgreSQL store `store_build.py --store postgres --pg-dir DIR` built; its
server is started for the runs and stopped after, and its processes' CPU counted.)

The models are `store_rescore.py`'s: the b2b example without lifecycle and triggers and a variant with
other points, or with `--lifecycle` the whole example (lifecycle, playbooks by stage, triggers) and the
same with other points. Each run applies the model the store does not hold (a real change over every
lead) at the current time, in a process of its own (`store_rescore.py --child bulk`). CPU seconds count
that process, its children and, given the PostgreSQL data folder, the server's processes (the
in-database statements run there). The first run also replaces the store's own model and is left out of
the medians. The runs change the store's results: measure the dashboard before.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

HEADER = [
    "| model | store | leads | changed | wall s, each run | median wall s | median CPU s | peak RSS MiB | "
    "leads to the pure scorer | load average |",
    "|---|---|---:|---:|---|---:|---:|---:|---:|---|",
]


def rescore_runs(
    url: str, lifecycle: bool, runs: int, pg_data: Path | None, work: Path, offset: int = 0
) -> list[dict[str, Any]]:
    from dashboard_bench import server_cpu
    from store_rescore import EXAMPLE, model_b, rules_only_model, run_child

    work.mkdir(parents=True, exist_ok=True)
    if lifecycle:
        (work / "a.yaml").write_text(EXAMPLE.read_text())
        models = [work / "a.yaml", model_b(work / "a.yaml", work / "b.yaml", rename=False)]
    else:
        models = [rules_only_model(work / "a-rules.yaml")]
        models.append(model_b(models[0], work / "b-rules.yaml"))
    # the store's results were evaluated when it was built: the runs evaluate later, as a user's apply would
    os.environ["LEADSCORE_BENCH_AT"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    out = []
    for i in range(runs):
        cpu, t = server_cpu(pg_data), time.perf_counter()
        r = run_child("bulk", url, str(models[(i + offset) % 2]), "0")
        r["wall_s"] = time.perf_counter() - t
        r["all_cpu_s"] = server_cpu(pg_data) - cpu
        r["load_avg"] = os.getloadavg()[0]
        print(json.dumps(r), flush=True)
        out.append(r)
    return out


def table_row(lifecycle: bool, store: str, runs: list[dict[str, Any]]) -> str:
    measured = runs[1:] if len(runs) > 1 else runs
    walls = ", ".join(f"{r['wall_s']:.0f}" for r in runs)
    loads = ", ".join(f"{r['load_avg']:.1f}" for r in runs)
    return (
        f"| {'lifecycle and triggers' if lifecycle else 'rules only'} | {store} | {runs[-1]['leads']:,} | "
        f"{runs[-1]['changed']:,} | {walls} | {statistics.median(r['wall_s'] for r in measured):.0f} | "
        f"{statistics.median(r['all_cpu_s'] for r in measured):.0f} | "
        f"{max(r['rss_mb'] for r in runs):.0f} | {runs[-1]['pure_leads']:,} | {loads} |"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("url", nargs="?", help="the store (not with --pg-dir)")
    p.add_argument("--pg-dir", type=Path, help="a PostgreSQL store built by store_build.py: started for the runs")
    p.add_argument("--lifecycle", action="store_true")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--pg-data", type=Path)
    p.add_argument("--work", type=Path, default=Path("/tmp/leadscore-rescore-large"))
    p.add_argument(
        "--offset",
        type=int,
        default=0,
        help="1: start with the second model (runs alternating trees, each applying the model the store does not hold)",
    )
    a = p.parse_args()
    if a.pg_dir is not None:
        from store_build import kept_server

        with kept_server(a.pg_dir) as (url, data):
            runs = rescore_runs(url, a.lifecycle, a.runs, data, a.work, a.offset)
        store = "postgresql"
    elif a.url:
        runs = rescore_runs(a.url, a.lifecycle, a.runs, a.pg_data, a.work, a.offset)
        store = a.url.split(":", 1)[0]
    else:
        p.error("a store URL or --pg-dir")
    print("\n".join([*HEADER, table_row(a.lifecycle, store, runs)]))


if __name__ == "__main__":
    main()
