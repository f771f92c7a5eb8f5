"""The lifecycle apply on a kept PostgreSQL store, its server CPU counted, and broken down by statement.

Run: .venv/bin/python benchmarks/pg_rescore_statements.py FOLDER TREE MODEL AT [--sample] [--hash SCRIPT]

FOLDER holds a stopped server's data (`FOLDER/data`, as `store_build.py --store postgres --pg-dir FOLDER`
leaves it). Each run: the folder copied (`FOLDER-run`), the copy's server started with the tests' settings
(`store_build.kept_server`), `benchmarks/store_rescore.py --child bulk URL MODEL 0` of the tree TREE run at
`nice -n 5` with `LEADSCORE_BENCH_AT=AT LEADSCORE_BENCH_PART_LEADS=10000`, then SCRIPT (a store hash, given
the URL) if named, the server stopped and the copy removed. `--conf NAME=VALUE` adds a setting to the
copy's `postgresql.auto.conf` (auto_explain's, say). Prints one JSON line: the load average before
and after, wall s, the apply process's CPU (user + system, its children included), the server's (every
server process's CPU before and after, the postmaster's reaped children included: the backends of closed
connections), and the bench's own figures.

`--sample`: a thread asks the server every 20 ms which statement each backend runs (`pg_stat_activity`)
and reads each backend's CPU (`/proc/<pid>/stat`); the CPU a backend used since the last sample goes to
the statement it runs now (or to `idle` between two). The sampler's own backend is left out. The
statements are grouped by their text with numbers and quoted literals blanked, first 110 characters.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str | int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def backends(data: Path) -> dict[int, float]:
    """CPU s of each live process of the server (not the postmaster) by pid."""
    postmaster = (data / "postmaster.pid").read_text().split()[0]
    out = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and (fields := _stat(proc.name)) and fields[1] == postmaster:
            out[int(proc.name)] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def server_cpu(data: Path) -> float:
    """Every server process's CPU s so far: the live ones, the postmaster and the exited ones it reaped."""
    postmaster = (data / "postmaster.pid").read_text().split()[0]
    own = _stat(postmaster)
    assert own is not None
    return sum(backends(data).values()) + sum(int(v) for v in own[11:15]) / TICK


def _shape(query: str) -> str:
    text = re.sub(r"'(?:[^']|'')*'", "'?'", query)
    text = re.sub(r"\b\d+(\.\d+)?\b", "N", text)
    return " ".join(text.split())[:110]


class Sampler(threading.Thread):
    def __init__(self, url: str, data: Path) -> None:
        super().__init__(daemon=True)
        self.url, self.data = url, data
        self.stop = threading.Event()
        self.cpu: dict[str, float] = {}
        self.seen: dict[int, float] = {}

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            me = conn.info.backend_pid
            while not self.stop.is_set():
                rows = conn.execute("SELECT pid, state, query FROM pg_stat_activity").fetchall()
                doing = {pid: (_shape(q or "") if state == "active" else "idle") for pid, state, q in rows}
                for pid, cpu in backends(self.data).items():
                    if pid == me:
                        continue
                    used = cpu - self.seen.get(pid, cpu if pid not in doing else 0.0)
                    self.seen[pid] = cpu
                    if used > 0:
                        key = doing.get(pid, "(not a client backend)")
                        self.cpu[key] = self.cpu.get(key, 0.0) + used
                time.sleep(0.02)


def main() -> None:
    from store_build import kept_server

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path)
    p.add_argument("tree", type=Path)
    p.add_argument("model")
    p.add_argument("at")
    p.add_argument("--sample", action="store_true")
    p.add_argument("--hash", help="a script printing the store's hashes, given its URL")
    p.add_argument("--conf", action="append", default=[], help="a server setting for the copy (NAME=VALUE)")
    a = p.parse_args()
    run = a.folder.with_name(a.folder.name + "-run")
    if run.exists():
        shutil.rmtree(run)
    subprocess.run(["cp", "-a", str(a.folder), str(run)], check=True)
    with (run / "data" / "postgresql.auto.conf").open("a") as conf:  # (`--conf`: auto_explain's, ...)
        conf.writelines(f"{line}\n" for line in a.conf)
    out: dict[str, Any] = {"tree": str(a.tree)}
    try:
        with kept_server(run) as (url, data):
            env = dict(os.environ, LEADSCORE_BENCH_AT=a.at, LEADSCORE_BENCH_PART_LEADS="10000")
            env["PYTHONPATH"] = str(a.tree / "src")
            cmd = ["nice", "-n", "5", sys.executable, str(a.tree / "benchmarks/store_rescore.py")]
            cmd += ["--child", "bulk", url, a.model, "0"]
            sampler = Sampler(url, data) if a.sample else None
            out["load_start"] = Path("/proc/loadavg").read_text().split()[0]
            kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            server0, t = server_cpu(data), time.perf_counter()
            if sampler:
                sampler.start()
            proc = subprocess.Popen(cmd, env=env, cwd=a.tree, stdout=subprocess.PIPE, text=True)
            stdout, _ = proc.communicate()
            wall = time.perf_counter() - t
            kids = resource.getrusage(resource.RUSAGE_CHILDREN)
            if sampler:
                sampler.stop.set()
                sampler.join()
            out["server_cpu_s"] = round(server_cpu(data) - server0, 2)
            out["load_end"] = Path("/proc/loadavg").read_text().split()[0]
            out["wall_s"] = round(wall, 1)
            out["process_cpu_s"] = round(kids.ru_utime + kids.ru_stime - kids0.ru_utime - kids0.ru_stime, 2)
            bench = json.loads(stdout.strip().splitlines()[-1])
            out["bench"] = {k: bench[k] for k in ("seconds", "cpu_s", "changed", "history_leads", "firings")}
            out["bench"]["phases"] = {k: round(v, 2) for k, v in bench["phases"].items() if isinstance(v, float)}
            if sampler:
                ranked = sorted(sampler.cpu.items(), key=lambda kv: -kv[1])
                out["statements"] = {k: round(v, 2) for k, v in ranked}
            if a.hash:
                hashed = subprocess.run([sys.executable, a.hash, url], capture_output=True, text=True, check=True)
                out["hash"] = hashed.stdout.split()
    finally:
        shutil.rmtree(run, ignore_errors=True)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
