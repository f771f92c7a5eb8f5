"""Batch re-score: the DuckDB engine vs the pure scorer vs a plain pandas implementation, same data, same run.

Run: .venv/bin/python benchmarks/batch_rescore.py [--leads 1000000] [--runs 3]
Data comes from `leadscore generate --leads N` (made once, kept under --data). The model is the b2b-saas
example without its lifecycle (stage replay has no pandas counterpart); the full example is measured too,
to show what the lifecycle fallback costs. Every measurement runs in its own process (peak RSS is that
process's). The pure scorer runs on a sample of leads and is extrapolated per event.
Writes benchmarks/results/batch.md (--quick: batch-quick.md, which `make bench-quick` shows).
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import resource
import shutil
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
EXAMPLE = ROOT / "examples" / "b2b-saas" / "model.yaml"
PHASES = ("prepare", "duplicates", "query", "replay", "fallback", "write")


def scratch_dir() -> str:
    """A scratch directory removed when this process exits: a run's outputs are hundreds of MB."""
    path = tempfile.mkdtemp(prefix="leadscore-bench-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def rules_only_model(path: Path) -> Path:
    """The b2b example without lifecycle, triggers and stage-dependent playbooks."""
    from ruamel.yaml import YAML

    y = YAML()
    data = y.load(EXAMPLE.read_text())
    for key in ("lifecycle", "triggers"):
        data.pop(key, None)
    data["playbooks"] = [p for p in data.get("playbooks", []) if "stage" not in json.dumps(p.get("when"), default=str)]
    data["name"] = "b2b-saas-rules"
    with path.open("w") as fh:
        y.dump(data, fh)
    return path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """CPU seconds of this process (all threads): what the run cost, whatever else shared the machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def generated(leads: int) -> Path:
    """`leadscore generate --leads N` data, made once and kept in the temporary directory."""
    data = Path(tempfile.gettempdir()) / f"leadscore-bench-batch-{leads}"
    if not (data / "leads.parquet").exists():
        cmd = [str(ROOT / ".venv/bin/leadscore"), "generate", "--leads", str(leads), "--out", str(data)]
        subprocess.run([*cmd, "--format", "parquet"], check=True)
    return data


def child(mode: str, model_path: str, data: str, extra: str) -> dict[str, Any]:
    from leadscore.domain.timeutil import parse_timestamp, to_micros
    from leadscore.model import load_model

    model = load_model(model_path)
    at_us = to_micros(parse_timestamp(AT))
    if mode.startswith("duckdb"):
        from leadscore.batch import run_batch

        out = Path(scratch_dir()) / "scores.parquet"
        t = time.perf_counter()
        run = run_batch(model, f"{data}/leads.parquet", f"{data}/events", AT, out=out, dedupe=extra)
        wall = time.perf_counter() - t
        s = run.stats
        return {
            "seconds": wall,
            "cpu": _cpu(),
            "rss_mb": _rss_mb(),
            "events": s.events,
            "leads": s.leads,
            "fallback": s.fallback_leads,
            "replayed": s.replayed_leads,
            "phases": s.seconds,
        }
    if mode == "pandas":
        import pyarrow.compute as pc
        import pyarrow.dataset as ds
        from benchmarks.batch_pandas import score_pandas

        t = time.perf_counter()
        leads = ds.dataset(f"{data}/leads.parquet").to_table().to_pandas()
        table = ds.dataset(f"{data}/events").to_table(columns=["lead_id", "type", "timestamp", "page_type", "channel"])
        table = table.append_column("ts", pc.cast(table["timestamp"], "int64")).drop(["timestamp"])
        events = table.to_pandas()
        scores = score_pandas(model, leads, events, at_us)
        scores.to_parquet(Path(scratch_dir()) / "scores.parquet")
        return {
            "seconds": time.perf_counter() - t,
            "cpu": _cpu(),
            "rss_mb": _rss_mb(),
            "events": len(events),
            "leads": len(scores),
        }
    if mode == "pure":
        import duckdb

        from leadscore.batch.duckdb import fallback
        from leadscore.batch.duckdb.sources import prepare
        from leadscore.engine import Scorer

        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        schema = prepare(con, f"{data}/leads.parquet", f"{data}/events")
        con.execute(f"CREATE TEMP TABLE sample AS SELECT id AS lead_id FROM leads USING SAMPLE {int(extra)} ROWS")
        parts = list(fallback.chunks(con, schema, "sample", size=int(extra)))
        leads = [lead for part, _ in parts for lead in part]
        events = [e for _, part in parts for e in part]
        t = time.perf_counter()
        Scorer(model).score_many(leads, events, AT)
        return {
            "seconds": time.perf_counter() - t,
            "rss_mb": _rss_mb(),
            "leads": len(leads),
            "events": sum(1 for e in events if e.ts <= at_us),
        }
    raise ValueError(mode)


def _phases(r: dict[str, Any]) -> str:
    return ", ".join(f"{k} {r['phases'][k]:.2f}" for k in PHASES if r["phases"].get(k))


def measure(mode: str, model: Path, data: Path, extra: str, runs: int) -> dict[str, Any]:
    results = []
    for _ in range(runs):
        cmd = [sys.executable, __file__, "--child", mode, str(model), str(data), extra]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
        )
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    by_time = sorted(results, key=lambda r: r["seconds"])
    med = dict(by_time[(len(by_time) - 1) // 2])  # the median run, with its own phases
    med["rss_mb"] = statistics.median(r["rss_mb"] for r in results)
    med["runs"] = [round(r["seconds"], 2) for r in results]
    return med


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "unknown CPU",
    )
    return f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=2_000, help="leads scored by the pure scorer")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument(
        "--lifecycle-data",
        type=Path,
        nargs="*",
        default=None,
        help="data sets for the full model (its SQL replay grows with the square of a lead's events: use smaller ones)",
    )
    parser.add_argument(
        "--lifecycle-leads",
        type=int,
        nargs="*",
        default=None,
        help="sizes of generated data sets for the full model (made once, kept in the temp directory)",
    )
    parser.add_argument("--quick", action="store_true", help="5k leads, one run, no pandas; writes batch-quick.md")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "MODEL", "DATA", "EXTRA"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    if args.quick:
        args.leads, args.runs, args.skip_pandas, args.sample = 5_000, 1, True, 500

    data = args.data or generated(args.leads)
    if args.lifecycle_leads:
        args.lifecycle_data = [*(args.lifecycle_data or []), *(generated(n) for n in args.lifecycle_leads)]
    work = Path(scratch_dir())
    rules = rules_only_model(work / "b2b-saas-rules.yaml")
    load = os.getloadavg()[0]
    rows: list[tuple[str, dict[str, Any]]] = []
    rows.append(("DuckDB, ids trusted (`--dedupe never`)", measure("duckdb", rules, data, "never", args.runs)))
    rows.append(("DuckDB, duplicate check (`--dedupe auto`)", measure("duckdb", rules, data, "auto", args.runs)))
    pure = measure("pure", rules, data, str(args.sample), 1)
    pandas = None if args.skip_pandas else measure("pandas", rules, data, "-", args.runs)
    fulls = [(d, measure("duckdb", EXAMPLE, d, "auto", 1)) for d in (args.lifecycle_data or [data])]
    load_end = os.getloadavg()[0]

    events = rows[0][1]["events"]
    pure_rate = pure["events"] / pure["seconds"]
    lines = [
        "# Batch re-score",
        "",
        f"Machine: {machine()}; load average {load:.1f} at start, {load_end:.1f} at the end "
        "(other work shared the cores: wall times are inflated accordingly).",
        f"Data: `leadscore generate --leads {args.leads}` ({rows[0][1]['leads']:,} leads, {events:,} events "
        f"up to T = {AT}). Command: `.venv/bin/python benchmarks/batch_rescore.py {' '.join(sys.argv[1:])}`. "
        f"Medians of {args.runs} runs, each in its own process; end to end: read Parquet, "
        "score, write the results (Parquet).",
        "Model: examples/b2b-saas without lifecycle and triggers "
        "(32 rules, 2 dimensions with floor/cap, 2 label sets).",
        "",
        "One table (the suite runner keeps the table lines of the printed output); phases are the median run's "
        "seconds (`duplicates`: the check for repeated event ids; `replay`: the lifecycle replay in SQL; "
        "`fallback`: the pure scorer for the leads the SQL cannot score).",
        "",
        "| run | wall (s) | events/s | CPU (s) | peak RSS (MiB) | runs (s) | phases (s) |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['seconds']:.2f} | {events / r['seconds']:,.0f} | {r['cpu']:.1f} | {r['rss_mb']:,.0f} "
            f"| {r['runs']} | {_phases(r)} |"
        )
    lines.append(
        f"| pure scorer (sample of {pure['leads']:,} leads, {pure['events']:,} events; extrapolated per event) | "
        f"{events / pure_rate:.1f} | {pure_rate:,.0f} | - | - | - | - |"
    )
    if pandas:
        lines.append(
            f"| pandas (same rules; scores and labels only) | {pandas['seconds']:.2f} | "
            f"{events / pandas['seconds']:,.0f} | {pandas['cpu']:.1f} | {pandas['rss_mb']:,.0f} | {pandas['runs']} "
            "| - |"
        )
    for d, full in fulls:
        lines.append(
            f"| full b2b-saas model with lifecycle, `--dedupe auto`, on {d.name} ({full['leads']:,} leads; "
            f"{full.get('replayed', 0):,} replayed in SQL, {full['fallback']:,} by the pure scorer) | "
            f"{full['seconds']:.2f} | {full['events'] / full['seconds']:,.0f} | {full['cpu']:.1f} | "
            f"{full['rss_mb']:,.0f} | {full['runs']} | {_phases(full)} |"
        )
    best = rows[0][1]["seconds"]
    checked = rows[1][1]["seconds"]
    lines += [
        "",
        f"Ratios (DuckDB with trusted ids): {events / pure_rate / best:.0f}x the pure scorer"
        + (f", {pandas['seconds'] / best:.1f}x pandas" if pandas else "")
        + (f"; with the duplicate check {pandas['seconds'] / checked:.1f}x pandas." if pandas else "."),
        "The full model's leads whose stage the bounds cannot decide are replayed in SQL; those with more than "
        "100 events go to the pure scorer.",
    ]
    print("\n".join(lines))
    out = HERE / "results" / ("batch-quick.md" if args.quick else "batch.md")
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
