"""Time and peak memory of `leadscore.generate` at 100k and 1M leads.

Each run is a fresh process so that its peak RSS is its own. Usage:

    .venv/bin/python benchmarks/generate_scale.py [--sizes 100000,1000000] [--repeats 3] [--kind b2b]

Prints a Markdown table: leads, events, seconds (median of the repeats), events per second, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import json, resource, sys, time
from leadscore.generate import generate
kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
summary = generate(kind, n, out, seed=1)
seconds = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps({"leads": n, "events": summary.events, "seconds": seconds, "cpu": cpu,
                  "rss": usage.ru_maxrss * 1024}))
"""


def run_once(kind: str, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="leadscore-gen-") as out:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, kind, str(n), out], check=True, capture_output=True, text=True
        )
        disk = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["disk"] = disk
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeats", type=int, default=3, help="runs per size below 1M leads (1M runs once)")
    parser.add_argument("--kind", default="b2b")
    args = parser.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        runs = [run_once(args.kind, n) for _ in range(args.repeats if n < 1_000_000 else 1)]
        seconds = statistics.median(r["seconds"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        rows.append((n, int(runs[0]["events"]), seconds, cpu, max(r["rss"] for r in runs), runs[0]["disk"], len(runs)))
    sys.stdout.write(
        f"| {args.kind} leads | events | wall s (median) | CPU s | events/s (wall) | peak RSS | on disk | runs |\n"
    )
    sys.stdout.write("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for n, events, seconds, cpu, rss, disk, count in rows:
        sys.stdout.write(
            f"| {n:,} | {events:,} | {seconds:.1f} | {cpu:.1f} | {events / seconds:,.0f} | "
            f"{rss / 2**30:.2f} GiB | {disk / 2**20:,.0f} MiB | {count} |\n"
        )


if __name__ == "__main__":
    main()
