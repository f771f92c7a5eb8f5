"""`model apply` on a SQLite store: the bulk path (DuckDB batch engine) vs the pure path, same store.

Run: .venv/bin/python benchmarks/store_rescore.py [--leads 100000] [--events-per-lead 50] [--runs 3] [--quick]
     [--lifecycle] [--store DIR]
With --store, the store is built once in DIR (load and first apply) and kept; each later invocation with
the same DIR runs --runs model changes on it (each applying the model the store does not hold) and prints
one JSON line per run and the medians, so that two trees can be measured on the same store
(PYTHONPATH pointing at each tree's src).
Data comes from `leadscore generate --leads N` (made once, kept under --data). The store is filled
by a bulk loader that builds the leads and events rows with the ingest's own functions (the io
reader, `event_rows`, `plain`, `account_of`) and inserts them directly, without the per-batch
rescoring; a check first ingests a few hundred leads the real way and asserts the rows are equal.
The models are the b2b example without lifecycle and triggers (A) and a variant with other points
(B); each run applies the other one, so every run is a real model change over every lead. With
`--lifecycle`, A is the whole b2b example (lifecycle, playbooks by stage, triggers) and B the same
with other points under the same name (a tuning change: stored stages and labels stay comparable);
the leads whose stage moved are rescored by the pure scorer inside the bulk path, and the report
says how many. Each
measurement runs in its own process (peak RSS is that process's); the pure path is timed on a
sample of leads and extrapolated. CPU seconds count the process and its children (the SQLite
readers and writer). Writes benchmarks/results/store_rescore.md (`--out`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from batch_rescore import rules_only_model  # noqa: E402

AT = os.environ.get("LEADSCORE_BENCH_AT", "2026-06-01T00:00:00Z")  # rescore_large.py: its store's now
PHASES = ("export", "prepare", "query", "shape", "write")
LIFECYCLE_PHASES = ("export", "before", "prepare", "query", "replay", "shape", "history", "pure", "write")
EXAMPLE = ROOT / "examples" / "b2b-saas" / "model.yaml"
CHECK_LEADS = 300


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """User + system CPU seconds of this process and of its children that have ended."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _children_cpu_s() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def model_b(a: Path, out: Path, rename: bool = True) -> Path:
    """Model A with other points for the pricing page and the demo request (a typical tuning change)."""
    from ruamel.yaml import YAML

    y = YAML()
    data = y.load(a.read_text())
    for rule in data["rules"]:
        if rule["id"] in ("pricing-page", "demo-request"):
            rule["points"] = rule["points"] + 5
    if rename:
        data["name"] = "b2b-saas-rules-b"
    with out.open("w") as fh:
        y.dump(data, fh)
    return out


# -- bulk loader --------------------------------------------------------------------------------------
def load(url: str, data: Path) -> None:
    """Leads and events rows exactly as `leadscore ingest` stores them, in the files' order."""
    from leadscore.io import iter_event_batches, iter_lead_batches
    from leadscore.io.plain import plain
    from leadscore.store import open_store
    from leadscore.store.events_repo import event_rows
    from leadscore.store.leads_repo import account_of

    store = open_store(url)
    store.upgrade()
    now = int(time.time() * 1_000_000)
    with store.write() as conn:
        raw: Any = conn.connection.driver_connection
        for batch in iter_lead_batches(data / "leads.parquet", 50_000):
            rows = []
            for lead in batch.items:
                attrs = plain(dict(lead.attributes))
                rows.append((lead.id, json.dumps(attrs), account_of(attrs), now, now))
            raw.executemany(
                "INSERT INTO leads (id, attributes, account, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", rows
            )
        cols = "event_key, lead_id, received_lead_id, type, ts, properties, ingested_at"
        for part in sorted((data / "events").glob("*.parquet")):
            for batch in iter_event_batches(part, 100_000):
                ev_rows = [
                    (
                        r["event_key"],
                        r["lead_id"],
                        r["received_lead_id"],
                        r["type"],
                        r["ts"],
                        json.dumps(r["properties"]),
                        r["ingested_at"],
                    )
                    for r in event_rows(batch.items, {}, now)
                ]
                raw.executemany(f"INSERT INTO events ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?)", ev_rows)
    store.dispose()


def check_loader(data: Path, model: Path) -> None:
    """The loader's rows equal what the real ingest stores, on the first CHECK_LEADS leads."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    from leadscore.app.service import LeadService
    from leadscore.store import open_store

    tmp = Path(tempfile.mkdtemp())
    ids = pq.read_table(data / "leads.parquet", columns=["id"]).column(0).to_pylist()[:CHECK_LEADS]
    for name in ("leads", "events"):
        (tmp / name).mkdir()
    lead_file = tmp / "leads" / "leads.parquet"
    pq.write_table(pq.read_table(data / "leads.parquet").slice(0, CHECK_LEADS), lead_file)
    wanted = set(ids)
    parts = []
    for part in sorted((data / "events").glob("*.parquet")):
        t = pq.read_table(part)
        t = t.filter(pc.is_in(t.column("lead_id"), value_set=pa.array(sorted(wanted))))
        if t.num_rows:
            parts.append(t)
    pq.write_table(pa.concat_tables(parts), tmp / "events" / "part-00000.parquet")
    small = tmp / "data"
    small.mkdir()
    (small / "leads.parquet").symlink_to(lead_file)
    (small / "events").symlink_to(tmp / "events")
    loaded, ingested = f"sqlite:///{tmp / 'loaded.db'}", f"sqlite:///{tmp / 'ingested.db'}"
    load(loaded, small)
    service = LeadService(open_store(ingested), model_path=model)
    service.upgrade()
    service.ingest_leads_file(lead_file)
    service.ingest_events_file(tmp / "events" / "part-00000.parquet")
    service.close()

    def rows(url: str) -> tuple[list[Any], list[Any]]:
        s = open_store(url)
        with s.read() as conn:
            leads = [tuple(r) for r in conn.execute(sa.text("SELECT id, attributes, account FROM leads ORDER BY id"))]
            events = [
                tuple(r)
                for r in conn.execute(
                    sa.text(
                        "SELECT event_key, lead_id, received_lead_id, type, ts, properties FROM events ORDER BY seq"
                    )
                )
            ]
        s.dispose()
        return leads, events

    a, b = rows(loaded), rows(ingested)
    norm = [(x[0], json.loads(x[1]), x[2]) for x in a[0]], [(x[0], json.loads(x[1]), x[2]) for x in b[0]]
    assert norm[0] == norm[1], "the loader's lead rows differ from the ingest's"
    ev = [(*x[:5], json.loads(x[5])) for x in a[1]], [(*x[:5], json.loads(x[5])) for x in b[1]]
    # ingest stores a lead's events in its batch order; compare as sets of rows, then per-lead order
    assert sorted(ev[0]) == sorted(ev[1]), "the loader's event rows differ from the ingest's"
    for lead in ids[:50]:
        assert [e for e in ev[0] if e[1] == lead] == [e for e in ev[1] if e[1] == lead]


# -- measurements -------------------------------------------------------------------------------------
def child(mode: str, url: str, model_path: str, sample: int) -> dict[str, Any]:
    from leadscore.app.maintenance import all_lead_batches, apply
    from leadscore.domain.timeutil import parse_timestamp, to_micros
    from leadscore.model import load_model
    from leadscore.store import open_store
    from leadscore.store.pipeline import Evaluator

    store = open_store(url)
    evaluator = Evaluator(load_model(model_path))
    at = to_micros(parse_timestamp(AT))
    t, cpu = time.perf_counter(), _cpu_s()
    if mode == "bulk":
        part = os.environ.get("LEADSCORE_BENCH_PART_LEADS")  # leads per part of a lifecycle apply
        if part:
            import importlib

            for module in ("leadscore.bulk.writeback", "leadscore.bulk.rescore"):  # this tree's, an older one's
                try:
                    owner = importlib.import_module(module)
                except ModuleNotFoundError:
                    continue
                if hasattr(owner, "PART_LEADS"):  # (a tree without parts runs whole)
                    owner.PART_LEADS = int(part)
                    break
        history_cpu = _count_history_cpu()
        phase_cpu = _count_phase_cpu()
        spans_file = _timeline_file()
        try:
            done = apply(store, evaluator, lambda: at)
        finally:
            os.environ.pop("LEADSCORE_TIMELINE", None)
        seconds = time.perf_counter() - t
        phases = dict(getattr(done, "seconds", {}))
        return {
            "timeline": _timeline(spans_file),
            "history_cpu_s": history_cpu[0],
            "cpu_phases": {k: round(v, 2) for k, v in phase_cpu.items()},
            "seconds": seconds,
            "cpu_s": _cpu_s() - cpu,
            "rss_mb": _rss_mb(),
            "leads": done.leads,
            "changed": done.changed,
            "engine": getattr(done, "engine", "pure"),
            "phases": phases,
            "pure_leads": getattr(done, "fallback_leads", 0),
            "history_leads": getattr(done, "history_leads", 0),
            "firings": len(done.firings),
        }
    ids = next(iter(all_lead_batches(store, sample)))
    cause = f"model:{evaluator.version}"

    def work(conn: Any) -> Any:
        return evaluator.rescore(store, conn, ids, at, cause)

    done = store.transact(work)
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "cpu_s": _cpu_s() - cpu,
        "rss_mb": _rss_mb(),
        "leads": done.leads,
        "changed": done.changed,
    }


def _timeline_file() -> Path:
    """The file the apply's processes write their spans to (`leadscore.bulk.timeline`): the one
    LEADSCORE_BENCH_TIMELINE names (kept), else a temporary one (read, then removed)."""
    kept = os.environ.get("LEADSCORE_BENCH_TIMELINE")
    if kept:
        path = Path(kept)
        path.unlink(missing_ok=True)
    else:
        fd, name = tempfile.mkstemp(prefix="leadscore-timeline-", suffix=".jsonl")
        os.close(fd)
        path = Path(name)
    os.environ["LEADSCORE_TIMELINE"] = str(path)  # the children inherit it
    return path


def _timeline(path: Path) -> dict[str, Any]:
    """Where fewer than two processes had work during a lifecycle apply in parts (2 cores), from the
    spans its processes wrote (`timeline.idle`), in the apply's whole run of its parts and in its
    stretches: the spill (the readers), the start (the first parts prepared, nothing to write yet),
    the middle, and the tail (the last preparing process done, the last parts written). The process
    that writes waits in `spill` and `wait` spans; each stretch: [seconds, seconds under two
    processes with work, idle core seconds]. Also on stderr, one line a span."""
    if not path.exists():
        return {}
    try:
        from leadscore.bulk import timeline
    except ModuleNotFoundError:  # a tree without it
        return {}
    try:
        spans = timeline.read(path)
    finally:
        if not os.environ.get("LEADSCORE_BENCH_TIMELINE"):
            path.unlink(missing_ok=True)
    whole = next((s for s in spans if s["what"] == "parts"), None)
    if whole is None:
        return {}
    t0, t1 = whole["t0"], whole["t1"]
    for s in sorted(spans, key=lambda s: (s["who"], s["t0"])):
        part = "" if s["part"] is None else f" {s['part']}"
        print(f"span {s['who']:>16} {s['what']}{part}: {s['t0'] - t0:8.2f} .. {s['t1'] - t0:8.2f}", file=sys.stderr)
    spill_end = next((s["t1"] for s in spans if s["what"] == "spill"), t0)
    first_load = min((s["t0"] for s in spans if s["what"] == "load"), default=spill_end)
    last_prepared = max((s["t1"] for s in spans if s["what"] == "prepare"), default=t1)
    stretches = {
        "spill": (t0, spill_end),
        "start": (spill_end, first_load),
        "middle": (first_load, last_prepared),
        "tail": (last_prepared, t1),
    }
    out: dict[str, Any] = {}
    for name, (lo, hi) in stretches.items():
        got = timeline.idle(spans, 2, lo, hi)
        out[name] = [round(got["seconds"], 2), round(got["under_cores_s"], 2), round(got["idle_core_s"], 2)]
    got = timeline.idle(spans, 2, t0, t1)
    out["seconds"] = round(got["seconds"], 2)
    out["under_two_s"] = round(got["under_cores_s"], 2)
    out["idle_core_s"] = round(got["idle_core_s"], 2)
    out["main_wait_s"] = round(sum(s["t1"] - s["t0"] for s in spans if s["what"] == "wait"), 2)
    return out


def _count_history_cpu() -> list[float]:
    """CPU seconds of this process (all its threads) inside `lifecycle_history.finish`, the pass that
    turns the SQL replay's conditions into stage history and trigger firings (the phases above are
    wall times, which the other jobs on a shared machine inflate)."""
    from leadscore.bulk import lifecycle_history

    spent = [0.0]
    real = lifecycle_history.finish

    def finish(*args: Any, **kwargs: Any) -> Any:
        t = time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - t

    lifecycle_history.finish = finish  # type: ignore[assignment]
    return spent


# (module, function) timed by `_count_phase_cpu`; nested ones count inside their callers too
PHASE_FUNCTIONS = (
    ("leadscore.bulk.rescore", "export_store"),
    ("leadscore.bulk.export_spill", "spill_events"),  # (a lifecycle apply in parts: every part's events)
    ("leadscore.bulk.rescore", "_before_scores"),
    ("leadscore.bulk.frames", "conditions_table"),
    ("leadscore.bulk.frames", "_number_rows"),  # (older trees)
    ("leadscore.bulk.frames", "_lead_order"),
    ("leadscore.bulk.frames", "aggregates"),
    ("leadscore.bulk.frames", "_undecided"),
    ("leadscore.bulk.lifecycle_walk", "drop_idle"),
    ("leadscore.bulk.lifecycle_split", "load_previous"),
    ("leadscore.bulk.lifecycle_split", "split"),
    ("leadscore.bulk.lifecycle_prepare", "shape_rows"),  # a part's (in this process when not ahead)
    ("leadscore.bulk.writeback", "shape_rows"),  # a whole run's
    ("leadscore.bulk.writeback", "_shape_rows"),  # where older trees have it
    ("leadscore.bulk.rescore", "_shape_rows"),  # where older trees have it
    ("leadscore.bulk.write", "write_rows"),
    ("leadscore.bulk.write", "write_sqlite"),
    ("leadscore.bulk.results_indexes", "drop"),  # (SQLite: the results' indexes left out of the parts' writes)
    ("leadscore.bulk.results_indexes", "rebuild"),  # (and built again at the end)
)


def _count_phase_cpu() -> dict[str, float]:
    """CPU seconds of this process (all its threads, so DuckDB's too) inside each of PHASE_FUNCTIONS:
    the phases' wall times say little on a shared machine. What is left of `cpu_s` is the batch
    engine's queries (scores, SQL replay), imports and the child processes (readers, writer)."""
    import importlib

    spent: dict[str, float] = {}
    for module, name in PHASE_FUNCTIONS:
        try:
            owner = importlib.import_module(module)
        except ModuleNotFoundError:  # a tree (measured "before") without that module
            continue
        real = getattr(owner, name, None)
        if real is None:
            continue
        label = f"{module.rsplit('.', 1)[-1]}.{name}"

        def timed(*args: Any, _real: Any = real, _label: str = label, **kwargs: Any) -> Any:
            t, kids = time.process_time(), _children_cpu_s()
            # on stderr as it happens: a run stopped midway (memory, time) still shows where it was
            print(f"phase {_label} start, peak RSS {_rss_mb():.0f} MiB", file=sys.stderr, flush=True)
            try:
                return _real(*args, **kwargs)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.process_time() - t
                if (used := _children_cpu_s() - kids) > 0:  # its reader or writer programs
                    spent[f"{_label} children"] = spent.get(f"{_label} children", 0.0) + used
                print(
                    f"phase {_label} end, {time.process_time() - t:.1f} CPU s, peak RSS {_rss_mb():.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )

        setattr(owner, name, timed)
    return spent


def run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--leads", type=int, default=100_000)
    p.add_argument("--events-per-lead", type=float, default=50.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--sample", type=int, default=2000, help="leads the pure path scores (extrapolated)")
    p.add_argument("--quick", action="store_true", help="a small store, one run (under 30 s)")
    p.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "lsbench")
    p.add_argument("--out", type=Path, default=HERE / "results" / "store_rescore.md")
    p.add_argument("--lifecycle", action="store_true", help="the whole b2b example: lifecycle and triggers")
    p.add_argument("--child", nargs=4, metavar=("MODE", "URL", "MODEL", "SAMPLE"))
    p.add_argument(
        "--store",
        type=Path,
        help="keep the store in this folder and reuse it on the next invocation (no load, no first apply); "
        "its phases and figures go to stdout as JSON (`--out` is not written)",
    )
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], a.child[1], a.child[2], int(a.child[3]))))
        return
    if a.quick:
        a.leads, a.runs, a.sample = 3000, 1, 300
    data = a.data / (f"g{a.leads}" if a.events_per_lead == 50.0 else f"g{a.leads}e{a.events_per_lead:g}")
    if not (data / "leads.parquet").exists():
        subprocess.run(
            [
                sys.executable,  # the interpreter running this benchmark, with its leadscore
                "-m",
                "leadscore.cli.main",
                "generate",
                "--leads",
                str(a.leads),
                "--events-per-lead",
                str(a.events_per_lead),
                "--out",
                str(data),
                "--format",
                "parquet",
            ],
            check=True,
            capture_output=True,
        )
    if a.store:
        a.store.mkdir(parents=True, exist_ok=True)
    work = a.store or Path(tempfile.mkdtemp(dir=a.data))
    if a.lifecycle:
        (work / "a.yaml").write_text(EXAMPLE.read_text())
        models = [work / "a.yaml", model_b(work / "a.yaml", work / "b.yaml", rename=False)]
        if a.out == HERE / "results" / "store_rescore.md":
            a.out = HERE / "results" / "store_rescore_lifecycle.md"
    else:
        models = [rules_only_model(work / "a.yaml")]
        models.append(model_b(models[0], work / "b.yaml"))
    db = work / "store.db"
    url = f"sqlite:///{db}"
    if a.store and db.exists():
        reuse(a, url, models, work / "applied.txt")
        return
    t = time.perf_counter()
    check_loader(data, models[0])
    check_s = time.perf_counter() - t
    t = time.perf_counter()
    load(url, data)
    load_s = time.perf_counter() - t
    first = run_child("bulk", url, str(models[0]), "0")  # the store's first results (model A)
    if a.store:  # built once: the measured runs come with the next invocations
        (work / "applied.txt").write_text("0")
        print(json.dumps({"load_s": load_s, "check_s": check_s, "first": first}))
        return
    bulk = [run_child("bulk", url, str(models[(i + 1) % 2]), "0") for i in range(a.runs)]
    other = models[(a.runs + 1) % 2]  # not the model the store holds now: a real change again
    pure = [run_child("pure", url, str(other), str(a.sample)) for _ in range(a.runs)]
    report(a, data, db, first, bulk, pure, load_s, check_s)
    db.unlink()  # gigabytes on a shared machine


def reuse(a: argparse.Namespace, url: str, models: list[Path], applied: Path) -> None:
    """`--runs` model changes on a kept store, each applying the model the store does not hold; one JSON
    line per run, then the medians (wall, CPU, phases)."""
    runs = []
    for _ in range(a.runs):
        nxt = (int(applied.read_text()) + 1) % 2
        r = run_child("bulk", url, str(models[nxt]), "0")
        applied.write_text(str(nxt))
        r["load_avg"] = os.getloadavg()[0]
        print(json.dumps(r), flush=True)
        runs.append(r)
    phases = [*(LIFECYCLE_PHASES if a.lifecycle else PHASES)]
    phases += sorted({k for r in runs for k in r["phases"]} - set(phases))  # the writer's steps
    med = {
        "wall": statistics.median(r["seconds"] for r in runs),
        "cpu": statistics.median(r["cpu_s"] for r in runs),
        "changed": runs[-1]["changed"],
        "rss_mb": max(r["rss_mb"] for r in runs),
        "phases": {ph: statistics.median(r["phases"].get(ph, 0.0) for r in runs) for ph in phases},
    }
    print(json.dumps({"median": med}))


def report(
    a: argparse.Namespace,
    data: Path,
    db: Path,
    first: dict[str, Any],
    bulk: list[dict[str, Any]],
    pure: list[dict[str, Any]],
    load_s: float,
    check_s: float,
) -> None:
    manifest = json.loads((data / "manifest.json").read_text())
    events = manifest["counts"]["events"]
    med = statistics.median(r["seconds"] for r in bulk)
    per_lead = statistics.median(r["seconds"] / r["leads"] for r in pure)
    phases = LIFECYCLE_PHASES if a.lifecycle else PHASES
    pure_total = per_lead * a.leads
    lines = [
        "# Store re-score after a model change (`model apply`), SQLite",
        "",
        f"Command: `.venv/bin/python benchmarks/store_rescore.py --leads {a.leads} --runs {a.runs}"
        + (f" --events-per-lead {a.events_per_lead:g}" if a.events_per_lead != 50.0 else "")
        + (" --lifecycle" if a.lifecycle else "")
        + (" --quick`" if a.quick else "`"),
        f"Machine: {platform.machine()}, {platform.python_version()}, {os.cpu_count()} cores (shared).",
        f"Store: {a.leads:,} leads, {events:,} events (`leadscore generate`), "
        f"{db.stat().st_size / 2**30:.2f} GiB; bulk load {load_s:.0f} s; loader checked against a real ingest "
        f"of {CHECK_LEADS} leads ({check_s:.0f} s).",
        (
            "Model: the whole b2b example (lifecycle, triggers); each run applies the other of two variants "
            "(same name, other points)."
            if a.lifecycle
            else "Model: the b2b example without lifecycle and triggers; each run applies the other of two variants."
        ),
        "",
        "| path | wall s (median) | CPU s (median) | leads/s | changed | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
        f"| bulk (DuckDB), {len(bulk)} runs | {med:.1f} | {statistics.median(r['cpu_s'] for r in bulk):.1f} | "
        f"{a.leads / med:,.0f} | {bulk[-1]['changed']:,} | "
        f"{max(r['rss_mb'] for r in bulk):.0f} |",
        f"| pure, {pure[0]['leads']} leads sampled x{len(pure)}, extrapolated | {pure_total:.0f} | "
        f"{statistics.median(r['cpu_s'] / r['leads'] for r in pure) * a.leads:.0f} | "
        f"{1 / per_lead:,.0f} | | {max(r['rss_mb'] for r in pure):.0f} |",
        f"| first apply (no stored results, bulk) | {first['seconds']:.1f} | {first['cpu_s']:.1f} | "
        f"{a.leads / first['seconds']:,.0f} | {first['changed']:,} | {first['rss_mb']:.0f} |",
        "",
        f"Speed-up: {pure_total / med:.1f}x. Phases of the bulk runs (median s):",
        "",
        "| " + " | ".join(phases) + " |",
        "|" + "---:|" * len(phases),
        "| " + " | ".join(f"{statistics.median(r['phases'].get(ph, 0.0) for r in bulk):.2f}" for ph in phases) + " |",
        "",
        f"Leads rescored by the pure scorer inside the bulk path: {bulk[-1]['pure_leads']:,} of {a.leads:,} "
        f"(first apply: {first['pure_leads']:,}); trigger firings: {bulk[-1]['firings']:,} "
        f"(first apply: {first['firings']:,}).",
        "",
        "export: leads and events out of SQLite into Arrow (raw JSON text through ADBC readers, two in parallel for "
        "tables over 1M rows; keys the model reads extracted into typed slots by DuckDB); prepare + query: the "
        "batch engine; shape: result rows with JSON text; write: rows streamed as Arrow into the ADBC writer "
        "(bulk ingest into a temporary table, score history and upsert in one transaction).",
        "",
    ]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    # a quick run writes its own file, so the full figures stay as they are
    (a.out.with_name(f"{a.out.stem}-quick.md") if a.quick else a.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
