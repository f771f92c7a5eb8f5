"""In-database re-scoring on PostgreSQL: `model apply` of a rules-only model over a whole store.

Run: .venv/bin/python benchmarks/pg_rescore.py [--leads 100000] [--runs 3] [--data DIR] [--quick]
A PostgreSQL server is started in a temporary directory (as the tests start theirs); a store is filled
by a bulk loader (COPY of the rows `leadscore ingest` would store, built by the same library code,
checked equal to a real ingest on a small file first), then the b2b example without lifecycle and
triggers is applied in the database, alternating two versions so that every run changes scores.
Reports medians, a due-only refresh, planner settings, and EXPLAIN ANALYZE's most expensive nodes.
Writes benchmarks/results/pg_rescore.md (--quick: pg_rescore-quick.md).

With --lifecycle: the whole b2b example (lifecycle, triggers) and a variant with other points under
the same name, applied by `model apply`'s bulk path (the store exported into DuckDB, the stage
history finished from the SQL replay's conditions; see leadscore.bulk.lifecycle_split), against a
sample of leads through the pure path. Writes pg_rescore_lifecycle.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

AT = "2026-06-01T00:00:00Z"
DAY_US = 86_400_000_000
LEAD_COLS = ("id", "attributes", "account", "created_at", "updated_at")


def generate(leads: int, out: Path) -> Path:
    if not (out / "leads.parquet").exists():
        cmd = [sys.executable, "-m", "leadscore.cli.main", "generate", "--leads", str(leads), "--out", str(out)]
        subprocess.run([*cmd, "--format", "parquet"], check=True, capture_output=True)
    return out


def lead_rows(path: Path, now: int, source: str) -> Iterator[tuple[tuple[Any, ...], dict[str, Any] | None]]:
    """(leads row, attribute history row) as `upsert_attributes` writes them for a new lead."""
    from leadscore.io import iter_lead_batches
    from leadscore.io.plain import plain
    from leadscore.store.leads_repo import account_of

    for batch in iter_lead_batches(path, 20_000):
        for lead in batch.items:
            attrs = dict(plain(dict(lead.attributes)))
            hist = {
                "lead_id": lead.id,
                "at": now,
                "changes": {k: [None, v] for k, v in attrs.items()},
                "source": source,
            }
            yield (lead.id, json.dumps(attrs), account_of(attrs), now, now), hist if attrs else None


def bulk_load(url: str, data: Path, now: int) -> dict[str, float]:
    """COPY leads, their attribute history and events into a migrated store; indexes kept."""
    import psycopg

    from leadscore.io import iter_event_batches
    from leadscore.store.backends import EVENT_COLUMNS, event_tuples
    from leadscore.store.events_repo import event_rows

    took: dict[str, float] = {}
    t = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn, conn.cursor() as cur:
        hist = []
        with cur.copy(f"COPY leads ({', '.join(LEAD_COLS)}) FROM STDIN") as copy:
            for row, h in lead_rows(data / "leads.parquet", now, "file:leads.parquet"):
                copy.write_row(row)
                if h is not None:
                    hist.append((h["lead_id"], h["at"], json.dumps(h["changes"]), h["source"]))
        with cur.copy("COPY lead_attribute_history (lead_id, at, changes, source) FROM STDIN") as copy:
            for row in hist:
                copy.write_row(row)
        took["leads"] = time.perf_counter() - t
        t = time.perf_counter()
        with cur.copy(f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
            for batch in iter_event_batches(data / "events", 20_000):
                for row in event_tuples(event_rows(batch.items, {}, now)):
                    copy.write_row(row)
        # leads seen only in events, created as `ensure_leads` does
        cur.execute(
            "INSERT INTO leads (id, attributes, account, created_at, updated_at) SELECT lead_id, CAST('{}' AS json), "
            "NULL, %(now)s, %(now)s FROM (SELECT DISTINCT lead_id FROM events) AS e "
            "WHERE NOT EXISTS (SELECT 1 FROM leads AS l WHERE l.id = e.lead_id)",
            {"now": now},
        )
        took["events"] = time.perf_counter() - t
    t = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    took["vacuum"] = time.perf_counter() - t
    return took


def new_database(server: str, name: str) -> str:
    import sqlalchemy as sa

    from leadscore.store import open_store

    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    url = server.rsplit("/", 1)[0] + "/" + name
    store = open_store(url)
    store.upgrade()
    store.dispose()
    return url


def check_loader(server: str, work: Path, base_model: Path) -> bool:
    """A small file ingested by `LeadService` and by the bulk loader gives the same leads and events."""
    from leadscore.app.service import LeadService
    from leadscore.store import open_store

    small = generate(300, work / "small")
    now = 1_780_000_000_000_000
    ingested = open_store(new_database(server, "check_ingest"))
    from leadscore.domain.timeutil import from_micros

    service = LeadService(ingested, model_path=base_model, clock=lambda: from_micros(now))
    service.ingest_leads_file(small / "leads.parquet")
    service.ingest_events_file(small / "events")
    loaded_url = new_database(server, "check_bulk")
    bulk_load(loaded_url, small, now)
    loaded = open_store(loaded_url)
    queries = [
        "SELECT id, attributes::text, account, created_at, updated_at FROM leads ORDER BY id",
        "SELECT lead_id, at, changes::text, source FROM lead_attribute_history ORDER BY id",
        "SELECT seq, event_key, lead_id, received_lead_id, type, ts, properties::text, ingested_at FROM events "
        "ORDER BY seq",
    ]
    same = True
    for sql in queries:
        with ingested.read() as a, loaded.read() as b:
            same &= list(a.exec_driver_sql(sql)) == list(b.exec_driver_sql(sql))
    service.close()
    for s in (ingested, loaded):
        s.dispose()
    return same


def explain(store: Any, evaluator: Any, at: int) -> list[tuple[str, float, int]]:
    """The write statement under EXPLAIN ANALYZE, rolled back: (node, own ms, rows) by own time."""
    from leadscore.bulk.in_database import write_statement

    sql, _ = write_statement(evaluator, at, "explain")
    with store.engine.connect() as conn:
        conn.exec_driver_sql("SET LOCAL extra_float_digits = 1")
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        conn.exec_driver_sql("SET LOCAL jit = off")
        plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql.replace("%", "%%")).scalar()
        conn.rollback()
    nodes: list[tuple[str, float, int]] = []

    def walk(node: dict[str, Any]) -> float:
        total = node.get("Actual Total Time", 0.0) * node.get("Actual Loops", 1)
        kids = sum(walk(k) for k in node.get("Plans", []))
        label = node["Node Type"] + (f" on {node['Relation Name']}" if "Relation Name" in node else "")
        label += f" ({node['CTE Name']})" if "CTE Name" in node else ""
        if node["Node Type"] != "CTE Scan":  # its time is the CTE's own plan, pulled through it
            nodes.append((label, max(total - kids, 0.0), int(node.get("Actual Rows", 0) * node.get("Actual Loops", 1))))
        return total

    walk(plan[0]["Plan"])
    return sorted(nodes, key=lambda n: -n[1])[:8]


def timed(fn: Any) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None, help="generated data (made if missing)")
    parser.add_argument("--quick", action="store_true", help="5,000 leads, 2 runs (under a minute)")
    parser.add_argument("--lifecycle", action="store_true", help="the whole b2b example: lifecycle and triggers")
    parser.add_argument("--sample", type=int, default=2000, help="--lifecycle: leads the pure path scores")
    args = parser.parse_args()
    if args.quick:
        args.leads, args.runs = 5_000, 2
    if args.lifecycle:
        lifecycle_main(args)
        return

    from batch_rescore import rules_only_model
    from tests.support.postgres import postgres_server

    from leadscore.bulk.in_database import Settings, rescore_in_database
    from leadscore.domain.timeutil import parse_timestamp, to_micros
    from leadscore.model import load_model
    from leadscore.store import open_store
    from leadscore.store.pipeline import Evaluator

    work = Path("/tmp/pg-rescore")
    work.mkdir(exist_ok=True)
    data = generate(args.leads, args.data or work / f"g{args.leads}")
    model_a = rules_only_model(work / "rules.yaml")
    model_b = work / "rules-b.yaml"
    text_b = model_a.read_text().replace("name: b2b-saas-rules", "name: b2b-saas-rules-b")
    model_b.write_text(text_b.replace("points: 5", "points: 6", 1))  # a new version that changes scores
    base = work / "base.yaml"
    base.write_text("format: 1\nname: base\nrules:\n  - {id: any, on: page_view, points: 1}\n")
    at = to_micros(parse_timestamp(AT))
    evaluators = [Evaluator(load_model(model_a)), Evaluator(load_model(model_b))]
    lines: list[str] = []
    with postgres_server() as server:
        loader_ok = check_loader(server, work, base)
        url = new_database(server, "bench")
        load = bulk_load(url, data, at - DAY_US)
        store = open_store(url)
        with store.read() as conn:
            n_leads, n_events = conn.exec_driver_sql(
                "SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM events)"
            ).one()
            size = conn.exec_driver_sql("SELECT pg_size_pretty(pg_database_size(current_database()))").scalar()
        first, done = timed(lambda: rescore_in_database(store, evaluators[0], at, "model:a"))
        runs: list[tuple[float, int]] = []
        for i in range(args.runs):
            ev = evaluators[(i + 1) % 2]
            secs, done = timed(lambda ev=ev: rescore_in_database(store, ev, at, f"model:{ev.version}"))
            runs.append((secs, done.changed))
        last = evaluators[args.runs % 2]
        same, done_same = timed(lambda: rescore_in_database(store, last, at, "again"))
        refresh, done_ref = timed(lambda: rescore_in_database(store, last, at + DAY_US, "refresh", due_only=True))
        tuning = []
        for label, settings in [
            ("work_mem 64MB", Settings(work_mem="64MB")),
            ("work_mem 1GB", Settings(work_mem="1GB")),
            ("jit on", Settings(jit=True)),
            ("2 parallel workers (sums in varying order)", Settings(parallel_workers=2, deterministic=False)),
        ]:
            secs, _ = timed(lambda s=settings: rescore_in_database(store, last, at, "tune", settings=s))
            tuning.append((label, secs))
        nodes = explain(store, last, at)
        store.dispose()

    med = statistics.median(s for s, _ in runs)
    lines += [
        "# In-database re-scoring on PostgreSQL (`model apply`, rules-only b2b model)",
        "",
        f"Command: `.venv/bin/python benchmarks/pg_rescore.py --leads {args.leads} --runs {args.runs}"
        + (" --quick`" if args.quick else "`"),
        f"Machine: {platform.machine()}, {platform.python_version()}, 2 shared cores; PostgreSQL server as the tests "
        "start it (fsync off, default shared_buffers).",
        f"Store: {n_leads:,} leads, {n_events:,} events, database {size}. Bulk load: leads {load['leads']:.1f} s, "
        f"events {load['events']:.1f} s, VACUUM ANALYZE {load['vacuum']:.1f} s. Loader rows identical to "
        f"`LeadService` ingest on a 300-lead file: {'yes' if loader_ok else 'NO'}.",
        "",
        "| step | seconds | leads written | history rows |",
        "|---|---|---|---|",
        f"| first apply (results inserted) | {first:.1f} | {n_leads:,} | {n_leads:,} |",
        f"| apply of a new version, median of {args.runs} (runs: {', '.join(f'{s:.1f}' for s, _ in runs)}) "
        f"| {med:.1f} | {n_leads:,} | {runs[0][1]:,} |",
        f"| same version again (nothing changes) | {same:.1f} | {done_same.leads:,} | {done_same.changed:,} |",
        f"| refresh one day later, due leads only | {refresh:.1f} | {done_ref.leads:,} | {done_ref.changed:,} |",
        "",
        f"Per lead: {med / n_leads * 1e6:.0f} us for an apply (the pure path measures about 1 ms).",
        "",
        "Planner settings (one run each, same version again: every row is read and compared, none is written):",
        "",
        "| setting | seconds |",
        "|---|---|",
        "| default: work_mem 256MB, serial, jit off | " + f"{same:.1f} |",
        *(f"| {label} | {secs:.1f} |" for label, secs in tuning),
        "",
        "EXPLAIN ANALYZE of the write statement (serial, jit off), nodes by own time (CTE scans left out):",
        "",
        "| node | own ms | rows |",
        "|---|---|---|",
        *(f"| {label} | {ms:,.0f} | {rows:,} |" for label, ms, rows in nodes),
        "",
    ]
    name = "pg_rescore-quick.md" if args.quick else "pg_rescore.md"
    (HERE / "results" / name).write_text("\n".join(lines))
    print("\n".join(lines))


def lifecycle_main(args: argparse.Namespace) -> None:
    """`model apply` and `refresh` of the whole b2b example through the bulk path vs the pure path."""
    import resource

    from store_rescore import EXAMPLE, model_b
    from tests.support.postgres import postgres_server

    from leadscore.app.maintenance import all_lead_batches, apply, refresh
    from leadscore.domain.timeutil import parse_timestamp, to_micros
    from leadscore.model import load_model
    from leadscore.store import open_store
    from leadscore.store.pipeline import Evaluator

    work = Path("/tmp/pg-rescore")
    work.mkdir(exist_ok=True)
    data = generate(args.leads, args.data or work / f"g{args.leads}")
    model_a = work / "life-a.yaml"
    model_a.write_text(EXAMPLE.read_text())
    models = [model_a, model_b(model_a, work / "life-b.yaml", rename=False)]
    at = to_micros(parse_timestamp(AT))
    evaluators = [Evaluator(load_model(m)) for m in models]

    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def measured(fn: Any) -> dict[str, Any]:
        c = cpu()
        secs, done = timed(fn)
        return {"s": secs, "cpu": cpu() - c, "done": done}

    with postgres_server() as server:
        url = new_database(server, "bench_life")
        load = bulk_load(url, data, at - DAY_US)
        store = open_store(url)
        with store.read() as conn:
            n_leads, n_events = conn.exec_driver_sql(
                "SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM events)"
            ).one()
        first = measured(lambda: apply(store, evaluators[0], lambda: at))
        runs = []
        for i in range(args.runs):
            ev = evaluators[(i + 1) % 2]
            runs.append(measured(lambda ev=ev: apply(store, ev, lambda: at)))
        last = evaluators[args.runs % 2]
        ref = measured(lambda: refresh(store, last, lambda: at + DAY_US))
        other = evaluators[(args.runs + 1) % 2]
        ids = next(iter(all_lead_batches(store, args.sample)))

        def pure_sample() -> Any:
            return store.transact(lambda conn: other.rescore(store, conn, ids, at, "sample"))

        pure = measured(pure_sample)
        store.dispose()
    med = statistics.median(r["s"] for r in runs)
    per_pure = pure["s"] / len(ids)
    phases = ("export", "before", "prepare", "query", "replay", "shape", "history", "pure", "write")

    def row(label: str, r: dict[str, Any]) -> str:
        d = r["done"]
        return (
            f"| {label} | {r['s']:.1f} | {r['cpu']:.1f} | {d.leads:,} | {d.changed:,} | "
            f"{getattr(d, 'history_leads', 0):,} | {getattr(d, 'fallback_leads', 0):,} | {len(d.firings):,} |"
        )

    lines = [
        "# `model apply` of the b2b example with lifecycle and triggers, PostgreSQL",
        "",
        f"Command: `.venv/bin/python benchmarks/pg_rescore.py --lifecycle --leads {args.leads} --runs {args.runs}`",
        f"Machine: {platform.machine()}, {platform.python_version()}, 2 shared cores; PostgreSQL server as the tests "
        "start it (fsync off, default shared_buffers).",
        f"Store: {n_leads:,} leads, {n_events:,} events; bulk load: leads {load['leads']:.1f} s, events "
        f"{load['events']:.1f} s. Models: the whole b2b example and the same with other points (same name).",
        "",
        "| step | wall s | CPU s | leads | changed | history from SQL replay | pure scorer | firings |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        row("first apply (no stored results)", first),
        *(row(f"apply of the other version, run {i + 1}", r) for i, r in enumerate(runs)),
        row("refresh one day later", ref),
        f"| pure path, {len(ids):,} leads sampled, extrapolated | {per_pure * n_leads:.0f} | "
        f"{pure['cpu'] / len(ids) * n_leads:.0f} | {n_leads:,} | | | | |",
        "",
        f"Apply median {med:.1f} s; speed-up over the pure path {per_pure * n_leads / med:.1f}x. "
        "Phases (s) of the last apply:",
        "",
        "| " + " | ".join(phases) + " |",
        "|" + "---:|" * len(phases),
        "| " + " | ".join(f"{runs[-1]['done'].seconds.get(ph, 0.0):.2f}" for ph in phases) + " |",
        "",
    ]
    name = "pg_rescore_lifecycle-quick.md" if args.quick else "pg_rescore_lifecycle.md"
    (HERE / "results" / name).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
