"""A year's funnel both ways on a built store: its statements run in the store, and the moves read
into DuckDB (what `run_report` does). Same numbers required; prints CPU and wall time of each run.

Run: PYTHONPATH=src python benchmarks/funnel_paths_bench.py STORE_URL --project DIR [--pg-data DIR] [--runs 2]
(the store and the project folder holding its model: `dashboard_bench.py --build-only` makes both;
`--pg-data`: the PostgreSQL server's data folder, whose processes' CPU is counted too)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))


def main() -> None:
    import sqlalchemy as sa
    from dashboard_bench import server_cpu

    from leadscore.analytics.common import Funnel, ReportFilter
    from leadscore.analytics.funnel import funnel_report
    from leadscore.analytics.history import ArrowHistory, read_moves
    from leadscore.analytics.tables import ReportMeta
    from leadscore.domain.timeutil import from_micros
    from leadscore.model.loader import load_model
    from leadscore.store import open_store

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--project", type=Path, required=True, help="the folder of the store's model.yaml")
    parser.add_argument("--pg-data", type=Path)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    store = open_store(args.url)
    with store.read() as conn:
        last = conn.execute(sa.text("SELECT max(at) FROM stage_history")).scalar()
    end = from_micros(int(last or 0)) + timedelta(days=1)
    f = ReportFilter(start=end - timedelta(days=365), end=end)
    funnel = Funnel.of(load_model(args.project / "model.yaml"))
    meta = ReportMeta(name="funnel", title="Funnel", period=f.describe(), generated_at="-")
    reports: dict[str, list[object]] = {}
    for _ in range(args.runs):
        for path in ("duckdb", "store"):
            with store.read() as conn:
                t, c = time.perf_counter(), server_cpu(args.pg_data)
                history = ArrowHistory(read_moves(store, conn, f)) if path == "duckdb" else None
                report = funnel_report(conn, funnel, f, meta, history)
                wall, cpu = time.perf_counter() - t, server_cpu(args.pg_data) - c
            reports.setdefault(path, []).append(report.model_dump(exclude={"meta"}))
            load = os.getloadavg()[0]
            name = store.engine.dialect.name
            print(f"{name} {path}: wall {wall:.1f} s, cpu {cpu:.1f} s, load {load:.1f}", flush=True)
    same = all(r == reports["store"][0] for rs in reports.values() for r in rs)
    print("same numbers both ways:", same)
    store.dispose()
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
