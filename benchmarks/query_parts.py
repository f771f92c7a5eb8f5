"""Where the batch scoring query's CPU goes: the engine's own query and its parts, each timed in CPU seconds
of this process (DuckDB's threads included), on one connection, alternated, medians.

Run: PYTHONPATH=src:. python benchmarks/query_parts.py DATA [--runs 3] [--model MODEL.yaml]
DATA is a `leadscore generate --format parquet` directory; the model defaults to the b2b example without
lifecycle (batch_rescore.rules_only_model). The views are those of `--dedupe never` (the ids trusted), so
that the query is the single pass over the events. Parts, each a query of its own over the same views:

- `floor`: one count per lead over every event (the GROUP BY's key and the events' count alone);
- `group by`: the engine's query up to its GROUP BY over the events (flags, decay factors, aggregates);
- `query`: the whole query (the join to the leads, points, dimensions, labels), as the run creates it.

Each part's rows are created as a temporary table, as the run creates its result. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def parts(sql: str) -> dict[str, str]:
    """The query's parts: its CTEs are one per line (`query.build_query`); `_ls_agg` is the GROUP BY."""
    lines = sql.split("\n")
    agg = next(i for i, line in enumerate(lines) if line.startswith("_ls_agg AS"))
    upto = "\n".join(lines[: agg + 1]).rstrip(",")
    return {
        "floor": "SELECT lead_id, count(*) AS n FROM events GROUP BY lead_id",
        "group by": f"{upto}\nSELECT * FROM _ls_agg",
        "query": sql,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()

    from benchmarks.batch_rescore import AT, rules_only_model, scratch_dir

    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.model import load_model

    model_path = args.model or rules_only_model(Path(scratch_dir()) / "rules.yaml")
    model = load_model(model_path)
    data = args.data
    run = BatchRun(model, f"{data}/leads.parquet", f"{data}/events", AT, dedupe="never", breakdown=False)
    if run.plan is None:
        print(f"no query: {run.stats.fallback_reason}", file=sys.stderr)
        return 1
    queries = parts(run.lookups.inline(run.plan.sql))
    cpu: dict[str, list[float]] = {name: [] for name in queries}
    wall: dict[str, list[float]] = {name: [] for name in queries}
    for _ in range(args.runs):
        for name, sql in queries.items():  # alternated: a slower minute of the machine hits every part
            c, t = _cpu(), time.perf_counter()
            run.con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_part AS {sql}")
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(_cpu() - c)
    print("| part | CPU s (runs) | median | wall s (runs) |")
    print("|---|---|---:|---|")
    for name in queries:
        runs = ", ".join(f"{x:.2f}" for x in cpu[name])
        walls = ", ".join(f"{x:.2f}" for x in wall[name])
        print(f"| {name} | {runs} | {statistics.median(cpu[name]):.2f} | {walls} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
