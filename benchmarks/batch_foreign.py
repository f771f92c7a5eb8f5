"""Batch re-score on data and models not shaped by the engine's authors: foreign_data.py's data set (40
event types, very heavy leads, leads without events, long Unicode text, NULLs, ids repeated with other
content, missing ids) and three models written from the format's contract alone (foreign_product.yaml,
foreign_content.yaml, foreign_shop.yaml), each against a hand-written DuckDB query of the same model
(foreign_<model>.sql), same data, same run.

Run: .venv/bin/python benchmarks/batch_foreign.py [--leads 200000] [--runs 3] [--models product,content,shop]
Every measurement is a process of its own (`--child MODE MODEL DATA`, MODE product-auto, product-never,
hand-dedupe or hand-never; cli-never or cli-auto: the `leadscore batch` command itself, in the child's
process), the product and the hand-written query alternated, medians of --runs: CPU
seconds of the process (user + system, all DuckDB threads) and its peak RSS. `--check DATA` compares, on
a small data set, the product with the pure scorer lead by lead (every field) and the hand-written
queries with the product (scores, dimensions, labels). Writes a section to
benchmarks/results/batch_foreign.md (--quick: batch_foreign-quick.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AT = "2026-06-01T00:00:00Z"
MODELS = ("product", "content", "shop")
# every column of the events files: the content that identifies an event without id
EVENT_COLUMNS = 'type, "timestamp", path, referrer, campaign, title, value, quantity, feature, device, duration_s'


def hand_sql(model: str, data: Path, at_us: int, dedupe: bool) -> str:
    """The hand-written query of `model`: the events CTE (the columns the file names, types up to T, repeated
    (lead, id) pairs and exact copies of id-less events dropped or not; the first file and row wins)
    and the query's file."""
    text = (HERE / f"foreign_{model}.sql").read_text()
    cols = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("-- columns:"))
    events = f"read_parquet('{data}/events/*.parquet'"
    if dedupe:
        source = f"""(SELECT lead_id, "timestamp", {cols} FROM {events}, filename = true, file_row_number = true)
            QUALIFY row_number() OVER (
                PARTITION BY lead_id, id, CASE WHEN id IS NULL THEN row({EVENT_COLUMNS}) END
                ORDER BY filename, file_row_number) = 1)"""
    else:
        source = events + ")"
    # an event after T keeps its lead in the GROUP BY (every lead id of the events is scored) without a
    # type, so that no rule's filter counts it
    rest = ", ".join(c.strip() for c in cols.split(",") if c.strip() != "type")
    ev = f"""WITH ev AS (SELECT lead_id, epoch_us("timestamp") AS ts,
        CASE WHEN epoch_us("timestamp") <= {at_us} THEN type END AS type, {rest} FROM {source}),\n"""
    body = text.replace("{leads}", f"'{data}/leads.parquet'").replace("{at}", str(at_us))
    return ev + body


def child(mode: str, model: str, data: str) -> dict[str, Any]:
    from benchmarks.batch_mixed import _usage, hand_connection, product_run
    from benchmarks.batch_rescore import scratch_dir

    from leadscore.domain.timeutil import parse_timestamp, to_micros

    at_us = to_micros(parse_timestamp(AT))
    out = Path(scratch_dir()) / "scores.parquet"
    threads = int(os.environ.get("LEADSCORE_BENCH_THREADS") or 0) or None
    t = time.perf_counter()
    info: dict[str, Any] = {}
    if mode.startswith("product"):
        info = product_run(HERE / f"foreign_{model}.yaml", data, out, mode, threads)
    elif mode.startswith("cli-"):
        info = cli_run(HERE / f"foreign_{model}.yaml", data, out, mode.removeprefix("cli-"), threads)
    elif mode.startswith("hand"):
        con = hand_connection(threads)
        sql = hand_sql(model, Path(data), at_us, mode == "hand-dedupe")
        con.execute(f"COPY ({sql}) TO '{out}' (FORMAT PARQUET)")
    else:
        raise ValueError(mode)
    wall = time.perf_counter() - t
    cpu, rss = _usage()
    import duckdb

    total = duckdb.sql(f"SELECT sum(score) FROM '{out}'").fetchall()[0][0]
    return {"seconds": wall, "cpu": cpu, "rss_mb": rss, "score_sum": float(total or 0.0), **info}


def cli_run(model: Path, data: str, out: Path, dedupe: str, threads: int | None) -> dict[str, Any]:
    """`leadscore batch` as the command runs it (its modules' imports, its checks of the arguments, its
    summary), in this process so that its CPU is the process's; the imports of the child's own modules
    come before it, as in the other modes."""
    from leadscore.cli.main import main

    args = ["batch", str(model), "--leads", f"{data}/leads.parquet", "--events", f"{data}/events", "--out", str(out)]
    args += ["--at", AT, "--dedupe", dedupe] + (["--threads", str(threads)] if threads else [])
    saved, sys.argv = sys.argv, ["leadscore", *args]
    try:
        main()
    except SystemExit as exc:  # typer ends the command with one
        if exc.code:
            raise
    finally:
        sys.argv = saved
    return {}


def check(data: Path, models: list[str]) -> list[str]:
    """On a small data set: the product equals the pure scorer lead by lead (every field of the result)
    and the hand-written queries equal the product (scores, dimensions, labels), with and without the
    duplicate check (the pure scorer drops repeated ids, so the product's `never` is compared to the
    hand-written `never` only)."""
    import duckdb
    from tests.batch.compare import differences

    from leadscore.batch import run_batch
    from leadscore.domain.lead import Lead
    from leadscore.domain.timeutil import parse_timestamp, to_micros
    from leadscore.engine import scorer_for
    from leadscore.io.batches import read_events, read_leads
    from leadscore.model import load_model

    sys.setrecursionlimit(10_000)
    at_us = to_micros(parse_timestamp(AT))
    leads, events = read_leads(data / "leads.parquet"), read_events(data / "events")
    known = {lead.id for lead in leads}  # a lead found only in the events is scored without attributes
    leads += [Lead(i) for i in sorted({e.lead_id for e in events} - known)]
    problems: list[str] = []
    for name in models:
        model = load_model(HERE / f"foreign_{name}.yaml")
        pure = [r.to_dict() for r in scorer_for(model).score_many(leads, events, AT)]
        for dedupe in ("auto", "never"):
            run = run_batch(model, data / "leads.parquet", data / "events", AT, dedupe=dedupe)
            got = run.to_dicts()
            if run.stats.fallback_leads:
                problems.append(f"{name} {dedupe}: {run.stats.fallback_leads} leads to the pure scorer")
            if dedupe == "auto":
                problems += [f"{name} pure/product: {d}" for d in differences(pure, got)[:5]]
            hand = duckdb.sql("SET TimeZone = 'UTC'") or duckdb.sql(hand_sql(name, data, at_us, dedupe == "auto"))
            cols = hand.columns
            rows = {r[0]: dict(zip(cols, r, strict=True)) for r in hand.fetchall()}
            for res in got:
                h = rows[res["lead_id"]]
                dims = {k: h[k] for k in res["dimensions"]}
                labels = {k: h[f"{k}_label"] if f"{k}_label" in h else h[k] for k in res["labels"]}
                mine = {"score": h["score"], "dimensions": dims, "labels": labels}
                theirs = {k: res[k] for k in mine}
                diff = differences([{"lead_id": res["lead_id"], **theirs}], [{"lead_id": res["lead_id"], **mine}])
                problems += [f"{name} {dedupe} product/hand: {d}" for d in diff]
        print(f"{name}: {len(leads):,} leads compared", file=sys.stderr)
    return problems


def measure(mode: str, model: str, data: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, model, str(data)]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _newest_first(old: str, section: str) -> str:
    """The results file with `section` first, right below the file's title (`# ...`) when it has one."""
    if not old:
        return section
    title, _, rest = old.partition("\n")
    if title.startswith("# "):
        return f"{title}\n\n{section}\n{rest.lstrip(chr(10))}"
    return f"{section}\n{old}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--quick", action="store_true", help="10k leads, one run")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "MODEL", "DATA"))
    parser.add_argument("--check", type=Path, metavar="DATA")
    args = parser.parse_args()
    models = args.models.split(",")
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    if args.check:
        problems = check(args.check, models)
        print("\n".join(problems) or "all equal")
        return 1 if problems else 0
    if args.quick:
        args.leads, args.runs = 10_000, 1
    import compileall

    compileall.compile_dir(ROOT / "src", quiet=1)  # as an installed package has it (see batch_mixed.py)
    data = args.data or Path(tempfile.gettempdir()) / f"leadscore-bench-foreign-{args.leads}"
    if not (data / "leads.parquet").exists():
        sys.path.insert(0, str(HERE))
        from foreign_data import generate

        generate(data, args.leads)
    load = os.getloadavg()[0]
    modes = ("product-auto", "hand-dedupe", "product-never", "hand-never")
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(args.runs):  # alternated: product, hand-written, product, ...
        for model in models:
            for mode in modes:
                rows.setdefault((model, mode), []).append(measure(mode, model, data))
    events = rows[(models[0], "product-auto")][0]["events"]
    lines = [
        f"## Foreign data and models: {args.leads:,} leads, {events:,} events up to T (foreign_data.py)",
        "",
        f"Command: `.venv/bin/python benchmarks/batch_foreign.py --leads {args.leads} --runs {args.runs}`; "
        f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at the end (2 shared cores). CPU s: "
        "user + system of the run's process, medians.",
        "",
        "| model | run | CPU s | wall s | peak RSS MiB | product / hand (CPU) | leads to the pure scorer | sums |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for model in models:
        for mode in modes:
            r = rows[(model, mode)]
            pair = {"product-auto": "hand-dedupe", "product-never": "hand-never"}
            other = pair.get(mode) or next(p for p, h in pair.items() if h == mode)
            prod, hand = (r, rows[(model, other)]) if mode in pair else (rows[(model, other)], r)
            ratio = f"{_median(prod, 'cpu') / _median(hand, 'cpu'):.2f}x" if mode.startswith("product") else ""
            x, y = _median(prod, "score_sum"), _median(hand, "score_sum")
            same = abs(x - y) <= 1e-9 * max(abs(y), 1.0)
            fb = str(max(x.get("fallback", 0) for x in r)) if mode.startswith("product") else "-"
            lines.append(
                f"| {model} | {mode} | {_median(r, 'cpu'):.2f} | {_median(r, 'seconds'):.2f} | "
                f"{_median(r, 'rss_mb'):,.0f} | {ratio} | {fb} | {'equal' if same else 'DIFFER'} |"
            )
        auto, never = rows[(model, "product-auto")], rows[(model, "product-never")]
        lines.append(
            f"| {model} | duplicate check / never | {_median(auto, 'cpu') / _median(never, 'cpu'):.2f}x | "
            f"{_median(auto, 'seconds') / _median(never, 'seconds'):.2f}x | | | | |"
        )
    text = "\n".join(lines) + "\n"
    name = "batch_foreign-quick.md" if args.quick else "batch_foreign.md"
    print(text)
    path = HERE / "results" / name
    old = path.read_text() if path.exists() and not args.quick else ""
    path.write_text(_newest_first(old, text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
