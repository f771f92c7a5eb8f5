"""Run the benchmark suite and write BENCHMARKS.md from the sections each benchmark writes.

`make bench` runs everything at full size (generates 1M leads / 50M events: expect a long run);
`make bench-quick` runs small sizes in about two minutes. Each benchmark is its own script that writes
a markdown section to benchmarks/results/<name>.md; this runner only orders them and adds the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
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
    ("batch_rescore.py", ["--quick"], ["--leads", "1000000", "--runs", "3"], "batch.md", "Batch re-score"),
]


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true")
    size.add_argument("--full", action="store_true")
    parser.add_argument("--only", nargs="*", help="run only these scripts")
    args = parser.parse_args()
    quick = not args.full
    sections: list[str] = []
    failures: list[str] = []
    for script, quick_args, full_args, result, title in SUITE:
        if args.only and script not in args.only:
            continue
        if quick and quick_args is None:
            continue
        path = HERE / script
        if not path.exists():
            continue
        cmd = [sys.executable, str(path), *((quick_args or []) if quick else full_args)]
        print(f"== {script} {' '.join(cmd[2:])}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, check=False, stdout=subprocess.PIPE, text=True)
        print(proc.stdout, end="")
        print(f"   {time.perf_counter() - t0:.1f} s, exit {proc.returncode}", flush=True)
        if proc.returncode != 0:
            failures.append(script)
            continue
        if result is None:
            shown = " ".join(["python", f"benchmarks/{script}", *cmd[2:]])
            table = "\n".join(ln for ln in proc.stdout.splitlines() if ln.startswith("|"))
            sections.append(f"## {title}\n\nCommand: `{shown}`\n\n{table}\n")
            continue
        out = HERE / "results" / result
        if out.exists():
            sections.append(out.read_text().strip())
    header = [
        "# Benchmarks",
        "",
        f"Machine: {machine()}.",
        f"Run: `make {'bench-quick' if quick else 'bench'}` ({time.strftime('%Y-%m-%d')}). "
        "Figures are medians of several runs unless a section says otherwise; "
        "ratios compare implementations on the same data in the same run.",
        "",
    ]
    if failures:
        header += [f"Failed in this run: {', '.join(failures)}.", ""]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(header) + "\n\n".join(sections) + "\n")
    print(f"wrote {ROOT / 'BENCHMARKS.md'}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
