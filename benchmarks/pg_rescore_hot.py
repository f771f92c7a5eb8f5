"""`model apply` in the database on PostgreSQL, before and after migration 0010 (HOT re-stamps).

Run: .venv/bin/python benchmarks/pg_rescore_hot.py [--leads 200000] [--events-per-lead 5] [--runs 4] [--ff 85 70]
One server (started as the tests start theirs), one database per variant, filled with the same
generated data by pg_rescore's bulk loader: `before` migrated to 0009_rt7 (model_version indexed,
fillfactor 100), `after` to head, and `ffN` at head with another fillfactor. The rules-only b2b model
and a variant with other points are applied alternately (every apply after the first changes some
scores and re-stamps the rest), the variants' order alternating; `VACUUM results` between applies
(not timed), as autovacuum would between two model changes. Per apply: wall, CPU seconds of this
process and of the server's processes (dashboard_bench.server_cpu), rows updated and HOT-updated
(pg_stat_user_tables), the sizes of `results` and its indexes. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--leads", type=int, default=200_000)
    p.add_argument("--events-per-lead", type=float, default=5)
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--ff", type=int, nargs="*", default=[], help="more stores at head with this fillfactor")
    p.add_argument("--work", type=Path, default=Path("/tmp/pg-rescore-hot"))
    a = p.parse_args()

    import sqlalchemy as sa
    from batch_rescore import rules_only_model
    from dashboard_bench import server_cpu
    from pg_rescore import AT, DAY_US, bulk_load
    from tests.support.postgres import postgres_server

    from leadscore.bulk.in_database import rescore_in_database
    from leadscore.domain.timeutil import parse_timestamp, to_micros
    from leadscore.model import load_model
    from leadscore.store import open_store
    from leadscore.store.migrate import upgrade
    from leadscore.store.pipeline import Evaluator

    a.work.mkdir(parents=True, exist_ok=True)
    data = a.work / f"g{a.leads}x{a.events_per_lead:g}"
    if not (data / "leads.parquet").exists():
        cmd = [sys.executable, "-m", "leadscore.cli.main", "generate", "--leads", str(a.leads), "--out", str(data)]
        cmd += ["--events-per-lead", str(a.events_per_lead), "--format", "parquet"]
        subprocess.run(cmd, check=True, capture_output=True)
    model_a = rules_only_model(a.work / "rules.yaml")
    model_b = a.work / "rules-b.yaml"
    text_b = model_a.read_text().replace("name: b2b-saas-rules", "name: b2b-saas-rules-b")
    model_b.write_text(text_b.replace("points: 5", "points: 6", 1))  # a new version that changes some scores
    at = to_micros(parse_timestamp(AT))
    evaluators = [Evaluator(load_model(model_a)), Evaluator(load_model(model_b))]
    names = ["before", "after", *(f"ff{f}" for f in a.ff)]
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    with postgres_server() as server:
        base = server.rsplit("/", 1)[0]
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            pg_data = Path(conn.exec_driver_sql("SHOW data_directory").scalar_one())
            version = conn.exec_driver_sql("SHOW server_version").scalar_one()
            for n in names:
                conn.exec_driver_sql(f"CREATE DATABASE {n}")
        admin.dispose()
        stores = {}
        for n in names:
            store = stores[n] = open_store(f"{base}/{n}")
            upgrade(store.engine, "0009_rt7" if n == "before" else "head")
            if n.startswith("ff"):
                with store.engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE results SET (fillfactor = {int(n[2:])})")
            bulk_load(f"{base}/{n}", data, at - DAY_US)

        def table_stats(n: str) -> tuple[Any, ...]:
            time.sleep(1.2)  # a backend's counters reach the shared statistics once it is idle
            with stores[n].engine.connect() as conn:
                return tuple(
                    conn.exec_driver_sql(
                        "SELECT n_tup_upd, n_tup_hot_upd, pg_relation_size('results'), pg_indexes_size('results') "
                        "FROM pg_stat_user_tables WHERE relname = 'results'"
                    ).one()
                )

        def vacuum(n: str) -> None:
            engine = sa.create_engine(f"{base}/{n}", isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.exec_driver_sql("VACUUM results")
            engine.dispose()

        for i in range(a.runs + 1):
            ev = evaluators[i % 2]
            for n in names if i % 2 == 0 else names[::-1]:
                s0, cpu0, t = table_stats(n), server_cpu(pg_data), time.perf_counter()
                done = rescore_in_database(stores[n], ev, at, f"model:{ev.version}")
                wall, cpu = time.perf_counter() - t, server_cpu(pg_data) - cpu0
                s1 = table_stats(n)
                assert done is not None
                row = {"wall": wall, "cpu": cpu, "changed": done.changed, "updated": s1[0] - s0[0]}
                row |= {"hot": s1[1] - s0[1], "heap_mb": s1[2] / 2**20, "index_mb": s1[3] / 2**20}
                print(n, i, row, flush=True)
                out[n].append(row)
                vacuum(n)
        for store in stores.values():
            store.dispose()

    print(f"\nPostgreSQL {version}\n")
    print(
        "| store | first apply CPU s (wall) | later applies: CPU s median (runs) | wall s median | HOT of updated |"
        " results heap / indexes MB |"
    )
    print("|---|---|---|---|---|---|")
    for n, rows in out.items():
        later = rows[1:]
        cpus = ", ".join(f"{r['cpu']:.1f}" for r in later)
        hot = ", ".join(f"{r['hot']:,}/{r['updated']:,}" for r in later)
        cpu, wall = statistics.median(r["cpu"] for r in later), statistics.median(r["wall"] for r in later)
        first, last = rows[0], later[-1]
        print(
            f"| {n} | {first['cpu']:.1f} ({first['wall']:.1f}) | {cpu:.1f} ({cpus}) | {wall:.1f} | {hot} | "
            f"{last['heap_mb']:.0f} / {last['index_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
