"""The lifecycle replay's conditions at every event time, in SQL: the one pass (window functions,
`sql.stage_windows`) against the join it replaces (`stage_replay.join_conditions_query`), and the one
pass with its window aggregates computed by NumPy (`bulk.frames`, what the store re-score runs).

Run: .venv/bin/python benchmarks/lifecycle_conditions.py [--leads 3000] [--events-per-lead 50] [--runs 3]
     [--no-join]
Data comes from `leadscore generate` (made once, kept under --data); the model is the b2b example. The
batch engine prepares the sources, then each query computes the conditions of every lead into a
table, on one DuckDB thread; the figure is the process's CPU seconds, best of --runs (the machine is
shared: CPU time is what an idle machine would show). Prints one line per query, and whether the
NumPy path's table equals the window operator's row for row.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "b2b-saas" / "model.yaml"
AT = "2026-06-01T00:00:00Z"


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--leads", type=int, default=3000)
    p.add_argument("--events-per-lead", type=float, default=50.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--no-join", action="store_true", help="the one pass only (the join is quadratic)")
    p.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "lsbench")
    a = p.parse_args()

    from leadscore.batch import run_batch
    from leadscore.bulk import frames
    from leadscore.domain.timeutil import parse_timestamp, to_micros
    from leadscore.model import parse_model
    from leadscore.sql import stage_replay

    data = a.data / f"g{a.leads}" if a.events_per_lead == 50.0 else a.data / f"g{a.leads}e{a.events_per_lead:g}"
    if not (data / "leads.parquet").exists():
        args = ["generate", "--leads", str(a.leads), "--events-per-lead", str(a.events_per_lead)]
        cmd = [sys.executable, "-m", "leadscore.cli.main", *args, "--out", str(data), "--format", "parquet"]
        subprocess.run(cmd, check=True, capture_output=True)
    model = parse_model(EXAMPLE.read_text(encoding="utf-8"))
    run = run_batch(model, str(data / "leads.parquet"), str(data / "events"), AT, dedupe="never")
    con = run.con
    con.execute("SET threads = 1")
    con.execute("CREATE OR REPLACE TEMP TABLE _b_ids AS SELECT id AS lead_id FROM leads")
    at = to_micros(parse_timestamp(AT))
    kw = {"dedupe": False, "dups_table": None, "lookups": run.lookups, "null_ids": run.null_ids}
    queries = {"one pass": stage_replay.conditions_query(model, run.schema, at, "_b_ids", **kw)}
    if not a.no_join:
        queries["join"] = stage_replay.join_conditions_query(model, run.schema, at, "_b_ids", **kw)
    events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    print(f"{a.leads} leads, {events} events, b2b example, one DuckDB thread, CPU s best of {a.runs}")

    def by_frames() -> None:
        frames.conditions_table(con, model, run.schema, at, "_b_ids", "_b_conds", inline=run.lookups.inline, **kw)

    def by_sql(sql: str) -> None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _b_conds AS {run.lookups.inline(sql)}")

    steps = {"one pass, NumPy aggregates": by_frames}
    steps |= {name: (lambda sql=sql: by_sql(sql)) for name, sql in queries.items()}
    for i, (name, step) in enumerate(steps.items()):
        best = float("inf")
        for _ in range(a.runs):
            t = _cpu_s()
            step()
            best = min(best, _cpu_s() - t)
        rows = con.execute("SELECT count(*) FROM _b_conds").fetchall()[0][0]
        print(f"{name}: {best:.2f} CPU s, {rows} (lead, time) rows", flush=True)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _b_kept{i} AS SELECT * FROM _b_conds")
    differ = "SELECT count(*) FROM (SELECT * FROM _b_kept{} EXCEPT ALL SELECT * FROM _b_kept{})"
    same = sum(con.execute(differ.format(x, y)).fetchall()[0][0] for x, y in ((0, 1), (1, 0)))
    print(f"NumPy aggregates against the window operator: {'the same rows' if not same else f'{same} rows differ'}")


if __name__ == "__main__":
    main()
