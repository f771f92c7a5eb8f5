"""Run the benchmark suite and write BENCHMARKS.md from the sections each benchmark writes.

`make bench` runs everything at full size (generates 1M leads / 50M events: expect a long run) and writes
BENCHMARKS.md; `make bench-quick` runs small sizes in about two minutes and writes BENCHMARKS-quick.md,
leaving the full results alone. `--collect` rebuilds BENCHMARKS.md from the results already on disk.
Each benchmark is its own script that writes a markdown section to benchmarks/results/<name>.md (or prints
a table, which is saved there); this runner only orders them and adds the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# (script, arguments for --quick, arguments for --full, result file it writes or None, section title)
# A script without a result file prints its markdown table; the runner captures it under the title.
# Quick arguments None: the benchmark runs only in the full suite.
SUITE: list[tuple[str, list[str] | None, list[str], str | None, str]] = [
    ("scorer_throughput.py", ["--runs", "5"], ["--runs", "9"], "scorer.md", "Pure scorer throughput"),
    ("io_read.py", ["--rows", "100000"], ["--rows", "1000000"], None, "Reading event files into Event objects"),
    (
        "generate_scale.py",
        ["--sizes", "20000", "--repeats", "3"],
        ["--sizes", "100000,1000000", "--repeats", "3"],
        None,
        "Data generator: time and peak memory",
    ),
    ("store_ingest.py", ["--quick"], ["--leads", "20000", "--runs", "1"], "store.md", "Store"),
    (
        "batch_rescore.py",
        ["--quick"],
        ["--leads", "1000000", "--runs", "3", "--lifecycle-leads", "20000", "100000"],
        "batch.md",
        "Batch re-score",
    ),
    (
        "batch_mixed.py",
        ["--quick"],
        ["--leads", "1000000", "--runs", "3"],
        "batch_mixed.md",
        "Batch re-score, second data set (regexes, non-ASCII text, repeated ids)",
    ),
    (
        "batch_foreign.py",
        ["--quick"],
        ["--leads", "1000000", "--runs", "3"],
        "batch_foreign.md",
        "Batch re-score, third data set and three models written from the format alone",
    ),
    ("store_rescore.py", ["--quick"], ["--leads", "100000", "--runs", "3"], "store_rescore.md", "Store re-score"),
    ("pg_rescore.py", ["--quick"], ["--leads", "100000", "--runs", "3"], "pg_rescore.md", "In-database re-score"),
    ("predictive_real_data.py", None, [], "predictive.md", "Predictive scoring on the real data"),
    (
        "predictive_generated_shift.py",
        None,
        [],
        "predictive_generated.md",
        "Predictive training on generated leads, with a shift",
    ),
    (
        "predictive_scale.py",
        ["--rows", "100000", "--runs", "1"],
        ["--rows", "1000000", "--runs", "3"],
        "predictive_scale.md",
        "Predictive scoring at scale",
    ),
    ("predictive_runtime.py", None, [], "predictive_runtime.md", "Predictive scoring at run time"),
    (
        "webhook_delivery.py",
        ["--delay", "0.2"],
        ["--messages", "14", "--delay", "2"],
        None,
        "Webhook delivery to a slow receiver",
    ),
    (
        "api_load.py",
        ["--quick"],
        ["--seconds", "6", "--bulk-requests", "10", "--runs", "3"],
        "api.md",
        "HTTP API",
    ),
    (
        "dashboard_bench.py",
        ["--quick"],
        ["--leads", "1000000", "--runs", "3", "--rescore-runs", "3"],
        "dashboard.md",
        "Dashboard pages, and model apply on the same 1M-lead / 50M-event stores",
    ),
    ("lead_list.py", ["--leads", "20000", "--runs", "3"], ["--leads", "1000000", "--runs", "3"], None, "Lead listing"),
]
RESULTS = HERE / "results"


def result_file(script: str, result: str | None, quick: bool = False) -> Path:
    """The section's file; a quick run's own `<name>-quick.md` when the script wrote one."""
    path = RESULTS / (result or f"{Path(script).stem}.md")
    mini = path.with_name(f"{path.stem}-quick.md")
    return mini if quick and mini.exists() else path


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(
            next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")).split()[1]
        )
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores{mem}; {system}; Python {platform.python_version()}"


def run_suite(quick: bool, only: list[str] | None) -> list[str]:
    failures: list[str] = []
    for script, quick_args, full_args, result, title in SUITE:
        if (only and script not in only) or (quick and quick_args is None) or not (HERE / script).exists():
            continue
        cmd = [sys.executable, str(HERE / script), *((quick_args or []) if quick else full_args)]
        print(f"== {script} {' '.join(cmd[2:])}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, check=False, stdout=subprocess.PIPE, text=True)
        print(proc.stdout, end="")
        print(f"   {time.perf_counter() - t0:.1f} s, exit {proc.returncode}", flush=True)
        if proc.returncode != 0:
            failures.append(script)
        elif result is None:
            shown = " ".join(["python", f"benchmarks/{script}", *cmd[2:]])
            table = "\n".join(ln for ln in proc.stdout.splitlines() if ln.startswith("|"))
            result_file(script, None).write_text(f"## {title}\n\nCommand: `{shown}`\n\n{table}\n")
    return failures


def collect(target: Path, label: str, failures: list[str], quick: bool = False) -> None:
    sections = [
        result_file(script, result, quick).read_text().strip()
        for script, _, _, result, _ in SUITE
        if result_file(script, result, quick).exists()
    ]
    header = [
        "# Benchmarks",
        "",
        f"Machine: {machine()}.",
        f"Run: {label} ({time.strftime('%Y-%m-%d')}). Each section names its command. "
        "Figures are medians of several runs unless a section says otherwise; "
        "ratios compare implementations on the same data in the same run.",
        "",
    ]
    if failures:
        header += [f"Failed in this run: {', '.join(failures)}.", ""]
    target.write_text("\n".join(header) + "\n\n".join(sections) + "\n")
    print(f"wrote {target}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--full", action="store_true")
    mode.add_argument("--collect", action="store_true", help="only rebuild BENCHMARKS.md from benchmarks/results")
    parser.add_argument("--only", nargs="*", help="run only these scripts")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.collect:
        collect(ROOT / "BENCHMARKS.md", "`python benchmarks/run.py --collect` over the full runs", [])
        return 0
    if args.full:
        failures = run_suite(False, args.only)
        collect(ROOT / "BENCHMARKS.md", "`make bench`", failures)
        return 1 if failures else 0
    # quick: run against a copy of the results, so the full figures on disk stay as they are
    with tempfile.TemporaryDirectory() as keep:
        saved = Path(keep) / "results"
        shutil.copytree(RESULTS, saved)
        try:
            failures = run_suite(True, args.only)
            collect(ROOT / "BENCHMARKS-quick.md", "`make bench-quick` (small sizes)", failures, quick=True)
        finally:
            shutil.rmtree(RESULTS)
            shutil.copytree(saved, RESULTS)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
