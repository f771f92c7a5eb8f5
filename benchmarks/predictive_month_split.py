"""Predictive training on the online shoppers sessions split by month: a time-split check on real data
other than the bank files (nothing was tuned on it).

The file is roughly in month order and its conversion rate rises from about 10% (February to May) to 20%
(November, December). The month name becomes a month number used as the time column, so the last 20% of
sessions by month (November and December, cut at a month boundary) are the test period and every month
stays whole on its side of each cut. With and without PageValues (see shared/data/README.md).
Writes benchmarks/results/predictive_month.md.

    LEADSCORE_SHARED_DATA=DIR .venv/bin/python benchmarks/predictive_month_split.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("LEADSCORE_SHARED_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "benchmarks" / "results" / "predictive_month.md"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "June", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def main() -> int:
    import numpy as np

    from leadscore.predictive import read_table, train
    from leadscore.predictive.recalibration import walk_forward

    path = DATA / "online_shoppers_intention.csv"
    if not path.exists():
        sys.stderr.write(f"no shared data at {path}\n")
        return 1
    frame = read_table(path)
    frame["month_number"] = frame["Month"].map({m: k for k, m in enumerate(MONTHS, start=1)}).astype(float)
    lines = [
        "| setting | chosen | ROC AUC [95% CI] | candidates (held-out AUC) | ECE | base rate: predicted / actual "
        "| recency weighting | recalibrated every 1/8 of the test period: method, ROC AUC, ECE, predicted "
        "| every 1/16 | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for name, exclude in (("all columns", ["Month"]), ("no PageValues", ["Month", "PageValues"])):
        start = time.perf_counter()
        result = train(frame, "Revenue", exclude=exclude, time="month_number", split="time", seed=42)
        seconds = time.perf_counter() - start
        m, ci = result.metrics, result.intervals.get("roc_auc", (float("nan"), float("nan")))
        held = ", ".join(f"{c.name} {c.heldout_auc:.3f}" for c in result.candidates if c.heldout_auc is not None)
        weighting = result.recency.get("half_life")
        # the test months in time order, each eighth recalibrated on the one before (the backtest's method)
        test = frame[frame["month_number"] >= float(result.parts[-1]["from"])].sort_values(
            "month_number", kind="stable"
        )
        walk = walk_forward(result.artifact, test.drop(columns=exclude), 8)
        wm = walk["metrics"]
        recal = f"{walk['method']}, {wm.roc_auc:.3f}, {wm.ece:.3f}, {walk['probabilities'].mean():.3f}"
        walk16 = walk_forward(result.artifact, test.drop(columns=exclude), 16)
        w16 = walk16["metrics"]
        recal += f" | {walk16['method']}, {w16.roc_auc:.3f}, {w16.ece:.3f}, {walk16['probabilities'].mean():.3f}"
        lines.append(
            f"| online_shoppers by month, {name} | {result.chosen} | {m.roc_auc:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] | "
            f"{held} | {m.ece:.3f} | {float(np.mean(result.heldout_p)):.3f} / {m.base_rate:.3f} | "
            f"{'none' if weighting is None else f'half-life {weighting:.0%} of the span'} | {recal} | {seconds:.0f} |"
        )
        parts = "; ".join(f"{p['part']}: {p['rows']:,} rows, {p['positives']:,} positives" for p in result.parts)
        notes.append(f"- {name}: {parts}")
        wanted = ("chose ", "base rate", "recalibration", "aligned")
        notes += [f"- {name}: {n}" for n in result.notes if any(w in n for w in wanted)]
        notes += [f"- {name}: warning: {w}" for w in result.warnings if "leakage" not in w]
        sys.stdout.write(lines[-1] + "\n")
        sys.stdout.flush()
    text = "# Predictive training on online shoppers sessions, split by month\n\n" + "\n".join([*lines, "", *notes])
    if "--print" in sys.argv:
        sys.stdout.write(text + "\n")
        return 0
    RESULTS.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {RESULTS}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
