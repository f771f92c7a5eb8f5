"""Where a `--dedupe never` run's CPU goes against the hand-written query, statement by statement, in one
process: the product's scoring statement and the hand-written query of the same model (foreign_<model>.sql)
alternated on one connection, then the Parquet output with and without the playbook column. On a shared
machine whole runs differ by more than the gap measured here; paired statements in one process do not
pay the imports, and alternate, so that a change of load hits both sides.

Run: PYTHONPATH=src:. .venv/bin/python benchmarks/batch_statements.py MODEL DATA [--runs 3] [--repeat 5]
(DATA from foreign_data.py). Prints one JSON line: CPU s (user + system of the process, all DuckDB
threads) of each statement, each run; `repeat`: how many copies of the result rows the output is written
from (the playbook column's cost grows with the leads, not the events).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _cpu(con: Any, sql: str) -> float:
    t = time.process_time()
    con.execute(sql)
    return round(time.process_time() - t, 3)


def measure(model: str, data: Path, runs: int, repeat: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    from batch_foreign import AT, hand_sql

    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.domain.timeutil import parse_timestamp, to_micros
    from leadscore.model import load_model

    t = time.process_time()
    spec = load_model(HERE / f"foreign_{model}.yaml")
    load = time.process_time() - t
    # as `leadscore batch` runs it for its default Parquet layout: no per-rule breakdown
    run = BatchRun(spec, data / "leads.parquet", data / "events", AT, dedupe="never", breakdown=False)
    con = run.con
    assert run.plan is not None
    product = f"CREATE OR REPLACE TEMP TABLE _ls_result AS {run.lookups.inline(run.plan.sql)}"
    hand = f"CREATE OR REPLACE TEMP TABLE _hand AS {hand_sql(model, data, to_micros(parse_timestamp(AT)), False)}"
    out = Path(tempfile.mkdtemp(prefix="leadscore-bench-"))
    cpu: dict[str, list[float]] = {}
    for _ in range(runs):
        cpu.setdefault("product query", []).append(_cpu(con, product))
        cpu.setdefault("hand-written query", []).append(_cpu(con, hand))
    con.execute(f"CREATE TEMP TABLE _big AS SELECT * FROM _ls_result, range({repeat}) AS t(k)")
    shape = run.shaped(False, "dimensions")
    assert shape is not None
    shape = shape.replace("FROM _ls_result", "FROM _big")
    at = shape.index("(CASE playbook") if "(CASE playbook" in shape else -1
    outputs = {"product output": shape, "hand-written output": "SELECT * FROM _hand, range({n}) AS t(k)"}
    if at >= 0:
        end = shape.rindex(" AS playbook")
        outputs["product output, no playbook"] = shape[:at] + "CAST(NULL AS VARCHAR)" + shape[end:]
    for _ in range(runs):
        for name, sql in outputs.items():
            sql = sql.replace("{n}", str(repeat))
            cpu.setdefault(name, []).append(_cpu(con, f"COPY ({sql}) TO '{out / 'o.parquet'}' (FORMAT PARQUET)"))
    (out / "o.parquet").unlink(missing_ok=True)
    out.rmdir()
    leads = int(con.execute("SELECT count(*) FROM _ls_result").fetchall()[0][0])
    return {"model": model, "leads": leads, "repeat": repeat, "load_model_cpu": round(load, 3),
            "loadavg": os.getloadavg()[0], "cpu": cpu}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("data", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(measure(args.model, args.data, args.runs, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
