"""The in-database `model apply` (rules only) on PostgreSQL as one statement or with the leads in parts.

Run: .venv/bin/python benchmarks/pg_rescore_parts.py --pg-dir DIR [--runs 2] [--parts 2] [--order whole:A,parts:B]
on a store `store_build.py --store postgres --pg-dir DIR` built (its server is started for the runs and
stopped after). The b2b example without lifecycle and triggers and a variant with other points
(`store_rescore.py`'s) are applied in turn at one fixed time, by the one statement and by the parts
(`bulk/in_database_parts.py`), in the order whole A, parts B, parts A, whole B (repeated `--runs`
times), so each model is applied by both over the other model's results. CPU seconds count this
process and every server process (`dashboard_bench.server_cpu`); after each run a digest of the
whole results table (every column, by lead) is taken, untimed: the same model at the same time must
leave the same digest, whichever way it was applied. Prints a JSON line per run and a table.
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
sys.path.insert(0, str(HERE.parent))

DIGEST = "SELECT md5(string_agg(CAST(r AS TEXT), '|' ORDER BY r.lead_id)) FROM results AS r"


CYCLE = "whole:A,parts:B,parts:A,whole:B"


def runs(pg_dir: Path, order: list[tuple[str, int]], parts: int, work: Path) -> list[dict[str, Any]]:
    import sqlalchemy as sa
    from dashboard_bench import server_cpu
    from store_build import kept_server
    from store_rescore import model_b, rules_only_model

    from leadscore.bulk.in_database import Settings, rescore_in_database
    from leadscore.model import load_model
    from leadscore.store import open_store
    from leadscore.store.pipeline import Evaluator

    work.mkdir(parents=True, exist_ok=True)
    a = rules_only_model(work / "a-rules.yaml")
    models = [Evaluator(load_model(a)), Evaluator(load_model(model_b(a, work / "b-rules.yaml")))]
    at = int(datetime.now(UTC).timestamp() * 1_000_000)
    out = []
    with kept_server(pg_dir) as (url, data):
        store = open_store(url)
        for mode, m in order:
            settings = Settings(parts=parts if mode == "parts" else 1, parts_min_leads=0)
            ev = models[m]
            cpu, t = server_cpu(data), time.perf_counter()
            done = rescore_in_database(store, ev, at, f"model:{ev.version}", settings=settings)
            row: dict[str, Any] = {"mode": mode, "model": "AB"[m], "wall_s": time.perf_counter() - t}
            row["cpu_s"] = server_cpu(data) - cpu
            row["load_avg"] = os.getloadavg()[0]
            assert done is not None
            row["leads"], row["changed"] = done.leads, done.changed
            with store.read() as conn:
                row["digest"] = conn.execute(sa.text(DIGEST)).scalar_one()
            print(json.dumps(row), flush=True)
            out.append(row)
        store.dispose()
    return out


def table(rows: list[dict[str, Any]], parts: int) -> str:
    lines = [
        "| way | runs (model: wall s / CPU s, load) | median wall s | median CPU s | leads | history rows |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mode in ("whole", "parts"):
        mine = [r for r in rows if r["mode"] == mode]
        if not mine:
            continue
        each = "; ".join(f"{r['model']}: {r['wall_s']:.0f} / {r['cpu_s']:.1f}, {r['load_avg']:.1f}" for r in mine)
        name = "one statement" if mode == "whole" else f"{parts} parts"
        lines.append(
            f"| {name} | {each} | {statistics.median(r['wall_s'] for r in mine):.0f} | "
            f"{statistics.median(r['cpu_s'] for r in mine):.1f} | {mine[-1]['leads']:,} | "
            f"{', '.join(str(r['changed']) for r in mine)} |"
        )
    same = all(
        len({r["digest"] for r in rows if r["model"] == m}) == 1 for m in "AB" if any(r["model"] == m for r in rows)
    )
    lines.append(f"\nResults of the same model at the same time identical whichever way (digest of every row): {same}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pg-dir", type=Path, required=True)
    p.add_argument("--runs", type=int, default=1, help="rounds of four applies")
    p.add_argument("--parts", type=int, default=2)
    p.add_argument("--order", default=None, help=f"the applies instead of --runs cycles of {CYCLE}")
    p.add_argument("--work", type=Path, default=Path("/tmp/leadscore-rescore-parts"))
    a = p.parse_args()
    steps = (a.order or ",".join([CYCLE] * a.runs)).split(",")
    order = [(mode, "AB".index(model)) for mode, model in (step.split(":") for step in steps)]
    print(table(runs(a.pg_dir, order, a.parts, a.work), a.parts))


if __name__ == "__main__":
    main()
