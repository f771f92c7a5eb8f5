"""Server time of the dashboard's pages on a large store: the sales queue, a lead's page, the funnel.

Run: .venv/bin/python benchmarks/dashboard_bench.py [--leads 100000] [--base 1000] [--runs 7] [--quick]
     [--postgres URL | --no-postgres]   (default: a PostgreSQL server started for the run; a new
     database is created on the server and dropped after)

The store: the demo builder replays `--base` generated leads over a year (results, score and stage
history, outbox and deliveries as real use leaves them); that store is then copied inside the
database, with suffixed ids, until it holds `--leads` leads (about 50 events each), so the tables have
the sizes and shapes of a large store without replaying every lead (`store_build.py`, which builds such a
store alone too, and says where it writes). Pages are requested through the
ASGI app in-process (server time: routing, queries, templates; no network), each `--runs` times;
the table shows the median and the slowest. Writes benchmarks/results/dashboard.md (`--out`).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

from store_build import base_store, build  # noqa: E402  (the store is built there)


def _data_directory(url: str) -> Path | None:
    """The server's data folder, when it runs on this machine and we may read it (its processes' CPU is
    then counted)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            folder = Path(conn.execute(sa.text("SHOW data_directory")).scalar_one())
        return folder if (folder / "postmaster.pid").is_file() else None
    except (sa.exc.DBAPIError, OSError):
        return None
    finally:
        engine.dispose()


def _has_leads(url: str) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM leads)")).scalar())
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


def server_cpu(pg_data: Path | None) -> float:
    """CPU seconds used so far by this process, its finished children (the store readers) and, given
    the PostgreSQL data folder, the server's processes (the backend that runs the queries and its
    parallel workers, and those of connections closed since: the ADBC reader opens its own): the
    report's whole cost, wherever it ran."""
    import resource

    own = time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own + kids.ru_utime + kids.ru_stime
    if pg_data is None:
        return total
    tick = os.sysconf("SC_CLK_TCK")
    postmaster = (pg_data / "postmaster.pid").read_text().split()[0]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == postmaster:  # a backend or worker of the server
            total += (int(fields[11]) + int(fields[12])) / tick
        elif proc.name == postmaster:  # the postmaster, and the backends that have exited (it reaped them)
            total += sum(int(v) for v in fields[11:15]) / tick
    return total


def counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = {
            t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
            for t in ("leads", "events", "score_history", "stage_history", "outbox")
        }
    engine.dispose()
    return out


def measure(
    project: Path, url: str, runs: int, pg_data: Path | None = None, only: tuple[str, ...] = ()
) -> list[tuple[str, float, float, float]]:
    import os

    from fastapi.testclient import TestClient

    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace
    from leadscore.dashboard.site import create_site

    os.environ["LEADSCORE_DATABASE_URL"] = url
    service = LeadService.from_workspace(Workspace.load(project))
    _, token = service.create_key("bench", ["admin"])
    # entered, so that the app's shutdown stops its rescoring worker before the store goes away
    stack = ExitStack()
    client = stack.enter_context(TestClient(create_site(service)))
    page = client.get("/app/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    client.post("/app/login", data={"key": token, "csrf": csrf.group(1)}, follow_redirects=False)
    first = client.get("/app/queue").text
    lead = re.search(r'data-lead="([^"]+)"', first)
    assert lead is not None
    deep = "/app/queue"
    for _ in range(20):  # twenty pages in: keyset paging must not slow down
        found = re.search(r'id="next-page" href="([^"]+)"', client.get(deep).text)
        assert found is not None
        deep = found.group(1).replace("&amp;", "&")
    year = service.now()
    since = year.replace(year=year.year - 1)
    pages = [
        ("queue, first page (50 rows)", "/app/queue"),
        ("queue, page 21 (keyset cursor)", deep),
        ("queue, label filter (hot)", "/app/queue?label=temperature%3Ahot"),
        ("queue, stage filter (sql)", "/app/queue?stage=sql"),
        ("queue, search by lead id", "/app/queue?q=" + lead.group(1)[:6]),
        ("queue, search by company name", "/app/queue?q=belma"),
        ("queue, search that finds nothing", "/app/queue?q=zzzz-no-such-lead"),
        ("queue, an owner nobody has", "/app/queue?owner=nobody"),
        ("queue, a rare stage (customer)", "/app/queue?stage=customer"),
        ("a lead's page", "/app/leads/" + lead.group(1)),
        ("a lead's page (a copy, deep in the store)", "/app/leads/" + lead.group(1) + "-" + "7"),
        ("funnel page, a year", f"/app/analytics/funnel?from={since.date()}&to={year.date()}"),
        ("channels page, a year", f"/app/analytics/channels?from={since.date()}&to={year.date()}"),
        ("score quality page, a year", f"/app/analytics/quality?from={since.date()}&to={year.date()}"),
        ("sales feedback page, a year", f"/app/analytics/feedback?from={since.date()}&to={year.date()}"),
        ("triggers page, a year", f"/app/analytics/triggers?from={since.date()}&to={year.date()}"),
    ]
    if only:  # the targeted pages alone (`--pages queue,lead,funnel`), for a quick measure on an idle machine
        pages = [(name, path) for name, path in pages if any(word in name for word in only)]
    out = []
    for name, path in pages:
        times, cpu = [], []
        for _ in range(runs):
            t, c = time.perf_counter(), server_cpu(pg_data)
            answer = client.get(path)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((server_cpu(pg_data) - c) * 1000)
            assert answer.status_code == 200, (path, answer.status_code)
        out.append((name, statistics.median(times), max(times), statistics.median(cpu)))
        print(f"{name}: median {statistics.median(times):.0f} ms, cpu {statistics.median(cpu):.0f} ms", flush=True)
    stack.close()
    service.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (default: a server started for the run)")
    parser.add_argument("--no-postgres", action="store_true", help="measure SQLite only")
    parser.add_argument(
        "--keep-postgres",
        action="store_true",
        help="build into the database the --postgres URL names and keep it (with --reuse: reuse it when it has leads)",
    )
    parser.add_argument(
        "--pg-data", type=Path, help="the PostgreSQL server's data folder: its processes' CPU time is counted too"
    )
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "leadscore-dashboard-bench")
    parser.add_argument("--quick", action="store_true", help="20,000 leads, 3 runs")
    parser.add_argument("--reuse", action="store_true", help="keep a SQLite store an earlier run built under --data")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--only-postgres", action="store_true", help="measure the PostgreSQL store only")
    parser.add_argument("--build-only", action="store_true", help="build the SQLite store under --data and stop")
    parser.add_argument("--pages", default="", help="measure only the pages whose names hold one of these words")
    parser.add_argument(
        "--rescore-runs",
        type=int,
        default=0,
        help="after the pages, time this many model changes (`model apply`) on each store, with and without lifecycle",
    )
    parser.add_argument(
        "--event-stride", type=int, default=1, help="keep one event in N in the copies (default: all of them)"
    )
    args = parser.parse_args()
    if args.quick:
        args.leads, args.runs = 20_000, 3
    copies = max(1, args.leads // args.base)
    base = base_store(args.data / f"base-{args.base}", args.base)
    sections = []
    rescores: list[str] = []
    targets = [("SQLite", f"sqlite:///{args.data / f'store-{copies}.db'}")]
    if args.postgres and args.keep_postgres:
        targets.append(("PostgreSQL", args.postgres))
    elif args.postgres:
        import sqlalchemy as sa

        name = "dash_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        targets.append(("PostgreSQL", args.postgres.rsplit("/", 1)[0] + "/" + name))
    try:
        for label, url in targets:
            path = url.removeprefix("sqlite:///")
            t = time.perf_counter()
            if args.build_only and label == "SQLite" and args.keep_postgres:
                continue  # only the PostgreSQL store is built
            if label == "SQLite" and args.only_postgres:
                continue
            if not (args.reuse and (Path(path).exists() if label == "SQLite" else _has_leads(url))):
                if label == "SQLite" and Path(path).exists():
                    Path(path).unlink()
                build(url, base, copies, args.event_stride)
            print(f"{label}: store of {counts(url)} built in {time.perf_counter() - t:.0f} s", flush=True)
            if args.build_only:
                return
            pg_data = (args.pg_data or _data_directory(url)) if label == "PostgreSQL" else None
            only = tuple(w for w in args.pages.split(",") if w)
            sections.append((label, counts(url), measure(base, url, args.runs, pg_data, only)))
            if args.rescore_runs:  # after the pages: the runs change the store's results
                from rescore_large import rescore_runs, table_row

                for lifecycle in (False, True):
                    runs = rescore_runs(url, lifecycle, args.rescore_runs, pg_data, args.data / "rescore-models")
                    rescores.append(table_row(lifecycle, label, runs))
    finally:
        if args.postgres and not args.keep_postgres:
            admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    out = args.out or HERE / "results" / ("dashboard-quick.md" if args.quick else "dashboard.md")
    out.write_text(report(sections, args, rescores), encoding="utf-8")
    print(f"wrote {out}")


def report(
    sections: list[tuple[str, dict[str, int], list[tuple[str, float, float, float]]]], args: Any, rescores: list[str]
) -> str:
    lines = [
        "# Dashboard: server time of the pages",
        "",
        f"`python benchmarks/dashboard_bench.py --leads {args.leads} --base {args.base} --runs {args.runs}"
        f"{f' --event-stride {args.event_stride}' if args.event_stride > 1 else ''}"
        f"{' --postgres URL' if args.postgres else ''}` on {platform.machine()}, Python {platform.python_version()}, "
        f"a shared machine with 2 cores; load average {os.getloadavg()[0]:.1f} at the end of the run (other work was "
        "running: figures are upper bounds).",
        "",
        "The pages are designed for 1M leads / 50M events (keyset paging on `ix_results_queue`, per-lead reads on "
        "indexed `lead_id` columns, reports aggregated in SQL); on this shared machine they are measured at the "
        "store size below. Targets: under 300 ms for the queue and a lead page, under 5 s for a year's funnel.",
        "",
    ]
    for label, sizes, rows in sections:
        lines += [
            f"## {label}",
            "",
            "Store: " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in sizes.items()),
            "",
            "| page | median ms | slowest ms | median CPU ms (this process, its readers, the database server) |",
            "|---|---:|---:|---:|",
        ]
        lines += [f"| {name} | {med:.0f} | {worst:.0f} | {cpu:.0f} |" for name, med, worst, cpu in rows]
        lines.append("")
    if rescores:
        from rescore_large import HEADER

        lines += [
            "## Re-score of the same stores after a model change (`model apply`, `benchmarks/rescore_large.py`)",
            "",
            "Each run applies the other of two variants of the b2b example (other points), over every lead; the "
            "first run also replaces the store's own model and is left out of the medians. CPU counts the apply's "
            "process, its children and the database server's processes. Target: under 120 s for 1M leads.",
            "",
            *HEADER,
            *rescores,
            "",
        ]
    return "\n".join(lines)


def run() -> None:
    """With no --postgres URL, start a throwaway server (as the tests do) unless --no-postgres."""
    if "--postgres" in sys.argv or "--no-postgres" in sys.argv:
        main()
        return
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import postgres_server

    with postgres_server() as url:
        sys.argv += ["--postgres", url]
        main()


if __name__ == "__main__":
    run()
