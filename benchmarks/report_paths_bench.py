"""A year's reports every way on a built store: their statements run in the store, and the store read
into DuckDB (what `run_report` does for channels and score quality); the funnel also as `run_report`
computes it (`arrays`: the moves read in lead order, counted with array operations). Same numbers
required; prints the CPU and wall time of each run (CPU of this process, its reader processes and,
given `--pg-data`, the PostgreSQL server's processes).

Run: PYTHONPATH=src python benchmarks/report_paths_bench.py STORE_URL --project DIR [--pg-data DIR]
     [--runs 2] [--reports funnel,channels,quality,feedback,triggers] [--paths arrays,duckdb,store]
(the store and the project folder holding its model: `dashboard_bench.py --build-only` makes both;
feedback and triggers have one path, in the store)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

REPORTS = ("funnel", "channels", "quality", "feedback", "triggers")
PATHS = {"funnel": ("arrays", "duckdb", "store"), "channels": ("duckdb", "store"), "quality": ("duckdb", "store")}


def main() -> None:
    import sqlalchemy as sa
    from dashboard_bench import server_cpu

    from leadscore.analytics.channels import channel_history, channel_report
    from leadscore.analytics.common import Funnel, ReportFilter
    from leadscore.analytics.feedback import feedback_report
    from leadscore.analytics.funnel import funnel_report
    from leadscore.analytics.history import ArrowHistory, read_moves
    from leadscore.analytics.quality import quality_report
    from leadscore.analytics.quality_sources import quality_history
    from leadscore.analytics.tables import ReportMeta
    from leadscore.analytics.triggers import triggers_report
    from leadscore.domain.timeutil import from_micros
    from leadscore.model.loader import load_model
    from leadscore.store import open_store

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--project", type=Path, required=True, help="the folder of the store's model.yaml")
    parser.add_argument("--pg-data", type=Path)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--reports", default=",".join(REPORTS))
    parser.add_argument("--paths", help="only these ways (default: every way a report has)")
    args = parser.parse_args()
    store = open_store(args.url)
    with store.read() as conn:
        last = conn.execute(sa.text("SELECT max(at) FROM stage_history")).scalar()
    end = from_micros(int(last or 0)) + timedelta(days=1)
    f = ReportFilter(start=end - timedelta(days=365), end=end)
    model = load_model(args.project / "model.yaml")
    funnel = Funnel.of(model)
    target = funnel.won or funnel.sql or ""

    def run(name: str, path: str, conn: sa.Connection) -> Any:
        meta = ReportMeta(name=name, title=name, period=f.describe(), generated_at="-")
        if name == "funnel" and path == "arrays":
            return funnel_report(conn, funnel, f, meta, moves=read_moves(store, conn, f, ordered=True))
        if name == "funnel":
            moves = ArrowHistory(read_moves(store, conn, f)) if path == "duckdb" else None
            try:
                return funnel_report(conn, funnel, f, meta, moves)
            finally:
                if moves is not None:
                    moves.close()
        if name == "channels":
            history = channel_history(store, conn, funnel, f, "source") if path == "duckdb" else None
            try:
                return channel_report(conn, funnel, f, meta, "source", history=history)
            finally:
                if history is not None:
                    history.close()
        if name == "quality":
            history = quality_history(store, conn, model, funnel, f, target) if path == "duckdb" else None
            try:
                return quality_report(conn, model, funnel, f, meta, target, history=history)
            finally:
                if history is not None:
                    history.close()
        if name == "feedback":
            return feedback_report(conn, model, funnel, f, meta)
        return triggers_report(conn, f, meta)

    name = store.engine.dialect.name
    same = True
    for report in args.reports.split(","):
        paths = PATHS.get(report, ("store",))
        if args.paths:
            paths = tuple(p for p in paths if p in args.paths.split(",")) or paths[-1:]
        dumps: dict[str, list[object]] = {}
        cpus: dict[str, list[float]] = {}
        for _ in range(args.runs):
            for path in paths:
                with store.read() as conn:
                    t, c = time.perf_counter(), server_cpu(args.pg_data)
                    result = run(report, path, conn)
                    wall, cpu = time.perf_counter() - t, server_cpu(args.pg_data) - c
                dumps.setdefault(path, []).append(result.model_dump(exclude={"meta"}))
                cpus.setdefault(path, []).append(cpu)
                load = os.getloadavg()[0]
                print(f"{name} {report} {path}: wall {wall:.1f} s, cpu {cpu:.1f} s, load {load:.1f}", flush=True)
        equal = all(d == dumps[paths[0]][0] for ds in dumps.values() for d in ds)
        medians = ", ".join(f"{p} {statistics.median(c):.1f} s" for p, c in cpus.items())
        print(f"{name} {report}: median CPU {medians}; same numbers every way: {equal}", flush=True)
        same = same and equal
    store.dispose()
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
