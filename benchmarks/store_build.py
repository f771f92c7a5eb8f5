"""A large store in minutes: a demo store copied inside the database until it holds `--leads` leads.

Run: .venv/bin/python benchmarks/store_build.py [--leads 1000000] [--base 1000] [--data DIR]
     [--store sqlite|postgres|both] [--pg-dir DIR]

Where it writes (nothing inside the repository):
- `DIR/base-<base>/`: the demo project the copies are made from (its `leadscore.db`, `model.yaml`, ...),
  built once by the demo builder (`--base` generated leads replayed over a year: results, score and
  stage history, outbox, deliveries as real use leaves them) and reused by later runs;
- SQLite: `DIR/store-<copies>.db` (a 1M-lead store is about 19 GB), replaced if it exists;
- PostgreSQL: the database `leadscore` of a server whose data folder is `--pg-dir` (default
  `DIR/pg`, about 20 GB at 1M leads), initialised if new, started for the build and stopped after.
  Start it again with `pg_ctl -D <pg-dir>/data -o "-p PORT" start` (as the user postgres when root), or
  let `rescore_large.py --pg-dir <pg-dir>` start and stop it around its runs.
`DIR` defaults to the system's temporary folder + `leadscore-dashboard-bench` (dashboard_bench.py's).

Every lead of the base and everything about it (attributes, events, results and result basis, score and
stage history, outbox, deliveries) is copied `copies - 1` times with `-<n>` appended to its ids, by one
INSERT .. SELECT a table inside the database. Why that is fast: the secondary indexes are dropped first
and built once at the end (a sort), and the rows are produced base row by base row, its copies next to
each other, so the keys that stay indexed during the load (SQLite's UNIQUE and primary keys, which
cannot be dropped) are inserted in runs of neighbours instead of at random all over an index larger
than the cache (the copies of one base event, `X-1 .. X-999`, sort next to each other). The events keep
the base's time order in their sequence numbers (each base event's copies in turn), as events that
arrived over a year would. On PostgreSQL every index and unique/primary constraint is dropped before the
load and recreated with its own name and definition after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

SERIALS = (
    ("events", "seq"),
    ("lead_attribute_history", "id"),
    ("score_history", "id"),
    ("stage_history", "id"),
    ("outbox", "id"),
    ("deliveries", "id"),
)
TABLES = (
    "leads",
    "lead_attribute_history",
    "events",
    "aliases",
    "results",
    "result_basis",
    "score_history",
    "stage_history",
    "models",
    "outbox",
    "deliveries",
)
# the copied tables (each copy's rows produced next to their base row: see the module's docstring)
COPIED = ("leads", "events", "results", "result_basis", "score_history", "stage_history", "outbox", "deliveries")


def base_store(folder: Path, leads: int) -> Path:
    from leadscore.demo import build_demo

    if not (folder / "leadscore.db").exists():
        build_demo(folder, leads, seed=3)
    return folder


def copy_base(base_url: str, url: str) -> None:
    """The base store's rows into the new store, table by table (ids kept)."""
    import sqlalchemy as sa

    from leadscore.store import open_store
    from leadscore.store.tables import metadata

    target = open_store(url)
    target.upgrade()
    src = sa.create_engine(base_url)
    with src.connect() as a, target.engine.begin() as b:
        for name in TABLES:
            table = metadata.tables.get(name)
            if table is None:
                continue
            rows = [dict(r) for r in a.execute(sa.select(table)).mappings()]
            for i in range(0, len(rows), 5000):
                b.execute(table.insert(), rows[i : i + 5000])
        if b.dialect.name == "postgresql":  # ids were copied: move the sequences past them
            for name, column in SERIALS:
                b.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', '{column}'), "
                        f"(SELECT COALESCE(MAX({column}), 0) + 1 FROM {name}), false)"
                    )
                )
    src.dispose()
    target.dispose()


def copy_statements(
    copies: int, outbox_step: int, event_stride: int = 1, pg: bool = False, source: str = ""
) -> list[str]:
    """One INSERT .. SELECT a copied table. The base table is the outer loop, the copy number the inner
    one (SQLite: a CROSS JOIN keeps its left table outside; PostgreSQL: a LATERAL series per base row),
    so a base row's copies are inserted one after the other, their suffixed keys on the same index pages,
    in the base's order. `source`: the schema the base rows are read from (SQLite: the attached base
    file, so that it does not materialise the whole result first, as it does to read the table it writes)."""
    k = "" if pg else f"WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < {copies - 1}) "
    x = f"CROSS JOIN LATERAL generate_series(1, {copies - 1}) AS k(n)" if pg else "CROSS JOIN k"
    s = "|| '-' || CAST(k.n AS VARCHAR(10))"
    thin = f" WHERE e.seq % {event_stride} = 0" if event_stride > 1 else ""
    statements = [
        f"INSERT INTO leads (id, attributes, account, created_at, updated_at) {k}"
        f"SELECT l.id {s}, l.attributes, l.account {s}, l.created_at, l.updated_at FROM {source}leads l {x}",
        f"INSERT INTO events (event_key, lead_id, received_lead_id, type, ts, properties, ingested_at) {k}"
        f"SELECT e.event_key {s}, e.lead_id {s}, e.received_lead_id {s}, e.type, e.ts, e.properties, e.ingested_at "
        f"FROM {source}events e {x}{thin}",
        f"INSERT INTO results (lead_id, model, model_version, evaluated_at, score, dimensions, labels, stage, "
        f"stage_history, playbook, queue_rank, breakdown, next_change_at) {k}"
        f"SELECT r.lead_id {s}, r.model, r.model_version, r.evaluated_at, r.score, r.dimensions, r.labels, "
        f"r.stage, r.stage_history, r.playbook, r.queue_rank, r.breakdown, r.next_change_at FROM {source}results r {x}",
        f"INSERT INTO score_history (lead_id, at, model_version, score, delta, dimensions, cause) {k}"
        f"SELECT h.lead_id {s}, h.at, h.model_version, h.score, h.delta, h.dimensions, h.cause "
        f"FROM {source}score_history h {x}",
        f"INSERT INTO stage_history (lead_id, at, from_stage, to_stage, cause, event_key, model_version) {k}"
        f"SELECT h.lead_id {s}, h.at, h.from_stage, h.to_stage, h.cause, h.event_key {s}, h.model_version "
        f"FROM {source}stage_history h {x}",
        f"INSERT INTO outbox (id, idempotency_key, trigger_id, lead_id, destination, payload, status, attempts, "
        f"next_attempt_at, created_at, last_error) {k}"
        f"SELECT o.id + k.n * {outbox_step}, o.idempotency_key {s}, o.trigger_id, o.lead_id {s}, o.destination, "
        f"o.payload, o.status, o.attempts, o.next_attempt_at, o.created_at, o.last_error FROM {source}outbox o {x}",
        f"INSERT INTO deliveries (outbox_id, at, attempt, status_code, ok, error, duration_ms) {k}"
        f"SELECT d.outbox_id + k.n * {outbox_step}, d.at, d.attempt, d.status_code, d.ok, d.error, d.duration_ms "
        f"FROM {source}deliveries d {x}",
    ]
    if event_stride == 1:  # with thinned events the counts would be wrong: the copies then have no basis
        statements.append(
            f"INSERT INTO result_basis (lead_id, events_seen) {k}"
            f"SELECT b.lead_id {s}, b.events_seen FROM {source}result_basis b {x}"
        )
    return statements


def _say(what: str, t: float) -> None:
    print(f"  {what[:70]}... {time.perf_counter() - t:.0f} s", flush=True)


def replicate_sqlite(path: Path, base: Path, copies: int, event_stride: int = 1) -> None:
    """The copies on SQLite (read from the base store's file `base`), on one connection of its own:
    without a journal (a benchmark store, thrown away if the build stops), secondary indexes dropped
    while copying and built after by a sort on two threads."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("ATTACH DATABASE ? AS base", (str(base),))
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -2000000", "threads = 2"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("BEGIN")
        indexes = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        step = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM outbox").fetchone()[0]
        for statement in copy_statements(copies, step, event_stride, source="base."):
            t = time.perf_counter()
            conn.execute(statement)
            _say(statement[12:], t)
        for _, sql in indexes:
            t = time.perf_counter()
            conn.execute(sql)
            _say(sql, t)
        conn.execute("COMMIT")
        t = time.perf_counter()
        conn.execute("ANALYZE")
        _say("ANALYZE", t)
        conn.execute("PRAGMA journal_mode = WAL")  # the store's own mode
    finally:
        conn.close()


def replicate_postgres(url: str, copies: int, event_stride: int = 1) -> None:
    """The copies on PostgreSQL in one transaction: the copied tables' indexes and unique/primary
    constraints dropped first and recreated after from their own definitions (same names)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    names = ", ".join(f"'{t}'" for t in COPIED)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        constraints = conn.exec_driver_sql(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            f"WHERE c.contype IN ('p', 'u') AND c.conrelid::regclass::text IN ({names})"
        ).all()
        indexes = conn.exec_driver_sql(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            f"WHERE i.indrelid::regclass::text IN ({names}) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        ).all()
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        for table, name, _ in constraints:
            conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        step = conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) + 1 FROM outbox").scalar_one()
        for statement in copy_statements(copies, step, event_stride, pg=True):
            t = time.perf_counter()
            conn.exec_driver_sql(statement)
            _say(statement[12:], t)
        for table, name, definition in constraints:
            t = time.perf_counter()
            conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            _say(f"{name} {definition}", t)
        for _, definition in indexes:
            t = time.perf_counter()
            conn.exec_driver_sql(definition)
            _say(definition, t)
        for table, column in SERIALS:  # the copies took ids from the sequences but the outbox's: move it
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"(SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}), false)"
            )
    t = time.perf_counter()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    _say("VACUUM ANALYZE", t)
    engine.dispose()


def build(url: str, base: Path, copies: int, event_stride: int = 1) -> None:
    """The base store (the demo project `base`) copied into the store at `url`, then copies 1..copies-1
    of every lead and everything about it, with `-<n>` appended to the ids. `event_stride` > 1 keeps one
    event in that many in the copies (a store with fewer events a lead)."""
    copy_base(f"sqlite:///{base / 'leadscore.db'}", url)
    if url.startswith("sqlite"):
        replicate_sqlite(Path(url.removeprefix("sqlite:///")), base / "leadscore.db", copies, event_stride)
    else:
        replicate_postgres(url, copies, event_stride)


@contextmanager
def kept_server(folder: Path) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL server whose data stays in `folder/data` (initialised with a `leadscore` database if
    new), started with the tests' settings and stopped on exit: (its URL, its data folder)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.support.postgres import _bindir, _free_port

    bindir, data, port = _bindir(), folder / "data", _free_port()
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    fresh = not data.exists()
    folder.mkdir(parents=True, exist_ok=True)
    if prefix:
        shutil.chown(folder, "postgres")
    if fresh:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
    options = (
        f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200 -c max_wal_size=8GB"
    )
    start = [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-o", options]
    subprocess.run([*start, "start"], check=True, capture_output=True)
    try:
        if fresh:
            subprocess.run(
                [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "leadscore"],
                check=True,
                capture_output=True,
            )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/leadscore", data
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)


def main() -> None:
    from dashboard_bench import counts, server_cpu

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--leads", type=int, default=1_000_000)
    p.add_argument("--base", type=int, default=1000, help="leads of the demo store that is copied")
    p.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "leadscore-dashboard-bench")
    p.add_argument("--store", choices=("sqlite", "postgres", "both"), default="sqlite")
    p.add_argument("--pg-dir", type=Path, help="the PostgreSQL server's folder (default DATA/pg)")
    p.add_argument("--event-stride", type=int, default=1, help="keep one event in N in the copies")
    a = p.parse_args()
    copies = max(1, a.leads // a.base)
    base = base_store(a.data / f"base-{a.base}", a.base)
    if a.store in ("sqlite", "both"):
        path = a.data / f"store-{copies}.db"
        for old in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            old.unlink(missing_ok=True)
        cpu, t = server_cpu(None), time.perf_counter()
        build(f"sqlite:///{path}", base, copies, a.event_stride)
        print(f"SQLite {path}: {time.perf_counter() - t:.0f} s wall, {server_cpu(None) - cpu:.0f} CPU s", flush=True)
        print(f"  {counts(f'sqlite:///{path}')}", flush=True)
    if a.store in ("postgres", "both"):
        folder = a.pg_dir or a.data / "pg"
        if (folder / "data").exists():
            shutil.rmtree(folder / "data")
        with kept_server(folder) as (url, data):
            cpu, t = server_cpu(data), time.perf_counter()
            build(url, base, copies, a.event_stride)
            print(
                f"PostgreSQL {data}: {time.perf_counter() - t:.0f} s wall, {server_cpu(data) - cpu:.0f} CPU s "
                "(this process and the server)",
                flush=True,
            )
            print(f"  {counts(url)}", flush=True)


if __name__ == "__main__":
    main()
