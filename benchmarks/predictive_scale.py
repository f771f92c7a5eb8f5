"""Predictive scoring at scale: training time and peak memory for 1M rows, and prediction throughput.

Rows are made by resampling bank_full (in file order, so a time split still means something) with noise on
numbers and a few categories flipped. Each measurement runs in its own process so that peak memory
(max RSS) is that run's alone; the figures are medians of 3 runs. Writes
benchmarks/results/predictive_scale.md.

    .venv/bin/python benchmarks/predictive_scale.py [--rows 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "bank_full.csv"
RESULTS = ROOT / "benchmarks" / "results" / "predictive_scale.md"


def generate(rows: int, path: Path, seed: int = 42) -> None:
    import numpy as np

    from leadscore.predictive import read_table

    base = read_table(DATA).drop(columns=["duration"])
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.integers(0, len(base), rows))
    frame = base.iloc[idx].reset_index(drop=True)
    for col in frame.columns:
        if col == "y":
            continue
        if frame[col].dtype.kind in "if":
            noise = rng.normal(0, 0.05 * float(frame[col].std()), rows)
            frame[col] = np.round(frame[col].to_numpy() + noise).astype("int64")
        else:
            flip = rng.random(rows) < 0.02
            frame.loc[flip, col] = rng.choice(frame[col].unique(), int(flip.sum()))
    frame.to_parquet(path, index=False)


def _child_train(data: Path, model: Path) -> dict[str, float]:
    from leadscore.predictive import read_table, save, train

    frame = read_table(data)
    start = time.perf_counter()
    result = train(frame, "y", split="time", compare_all=False)
    seconds = time.perf_counter() - start
    save(result.artifact, model)
    return {"seconds": seconds, "auc": float(result.metrics.roc_auc or 0.0), "chosen": result.chosen}  # type: ignore[dict-item]


def _child_predict(data: Path, model: Path, top: int) -> dict[str, float]:
    from leadscore.predictive import load, predict, read_table

    frame = read_table(data).drop(columns=["y"])
    artifact = load(model)
    start = time.perf_counter()
    out = predict(artifact, frame, top=top)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows_per_s": len(out) / seconds}


def _run_child(args: list[str]) -> tuple[dict[str, float], float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    payload = json.loads(done.stdout.strip().splitlines()[-1])
    return payload["result"], payload["max_rss_mb"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        kind, data, model, *rest = args.child
        if kind == "train":
            result = _child_train(Path(data), Path(model))
        else:
            result = _child_predict(Path(data), Path(model), int(rest[0]))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sys.stdout.write(json.dumps({"result": result, "max_rss_mb": rss}) + "\n")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data, model = Path(tmp) / "rows.parquet", Path(tmp) / "model.lsm"
        generate(args.rows, data)
        train_runs = [_run_child(["train", str(data), str(model)]) for _ in range(args.runs)]
        pred_runs = {
            top: [_run_child(["predict", str(data), str(model), str(top)]) for _ in range(args.runs)] for top in (0, 3)
        }
    t_sec = statistics.median(r["seconds"] for r, _ in train_runs)
    t_rss = statistics.median(rss for _, rss in train_runs)
    chosen = train_runs[0][0]["chosen"]
    auc = train_runs[0][0]["auc"]
    lines = [
        "# Predictive scoring at scale",
        "",
        f"{args.rows:,} rows resampled from bank_full with noise (no duration); time split (first 80% train);",
        f"medians of {args.runs} runs, each in its own process; 2-core machine.",
        "",
        "| measurement | value |",
        "|---|---|",
        f"| training time (tournament of 4 candidates, calibration, held-out metrics) | {t_sec:.1f} s |",
        f"| training peak memory (max RSS of the process, incl. the data) | {t_rss:,.0f} MB |",
        f"| chosen model / held-out ROC AUC on the synthetic rows | {chosen} / {auc:.3f} |",
    ]
    for top, runs in pred_runs.items():
        rate = statistics.median(r["rows_per_s"] for r, _ in runs)
        rss = statistics.median(m for _, m in runs)
        what = "scores only" if top == 0 else f"scores + top {top} positive/negative factors"
        lines.append(f"| prediction throughput, {what} | {rate:,.0f} rows/s (peak {rss:,.0f} MB) |")
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
