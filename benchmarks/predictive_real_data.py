"""Predictive scoring on the real shared data, in the six settings of shared/data/README.md.

Each setting is trained exactly as a user would (`train` with the same split), and every figure is on
held-out rows: the last 20% by file order for time splits, 5-fold stratified cross-validation otherwise.
Writes benchmarks/results/predictive.md.

    .venv/bin/python benchmarks/predictive_real_data.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "predictive.md"

BANK, BANK_ADD, SHOP = "bank_full.csv", "bank_additional_full.csv", "online_shoppers_intention.csv"
# (setting, file, label, excluded columns, split, best reference ROC AUC from shared/data/README.md)
SETTINGS = [
    ("bank_full, no duration, stratified 5-fold", BANK, "y", ["duration"], "stratified", 0.797),
    ("bank_full, no duration, time 80/20", BANK, "y", ["duration"], "time", 0.730),
    ("bank_additional, no duration, stratified 5-fold", BANK_ADD, "y", ["duration"], "stratified", 0.804),
    ("bank_additional, no duration, time 80/20", BANK_ADD, "y", ["duration"], "time", 0.748),
    ("online_shoppers, all columns, stratified 5-fold", SHOP, "Revenue", [], "stratified", 0.930),
    ("online_shoppers, no PageValues, stratified 5-fold", SHOP, "Revenue", ["PageValues"], "stratified", 0.777),
]  # fmt: skip

CANDIDATES = ("naive_bayes", "logistic", "lightgbm", "blend")


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> int:
    from leadscore.predictive import read_table, train

    if not DATA.exists():
        sys.stderr.write(f"no shared data at {DATA}\n")
        return 1
    header = (
        "| setting | " + " | ".join(f"{c} AUC" for c in CANDIDATES)
        + " | chosen | ROC AUC | PR AUC | log loss | Brier | ECE | calibration | best reference | >= ref | seconds |"
    )  # fmt: skip
    lines = [header, "|" + "---|" * (len(CANDIDATES) + 11)]
    for setting, file, label, exclude, split, reference in SETTINGS:
        frame = read_table(DATA / file)
        start = time.perf_counter()
        result = train(frame, label, exclude=exclude, split=split, seed=42)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        held = {c.name: c.heldout_auc for c in result.candidates}
        m = result.metrics
        ok = m.roc_auc is not None and round(m.roc_auc, 3) >= reference
        lines.append(
            f"| {setting} | " + " | ".join(_f(held.get(c)) for c in CANDIDATES)
            + f" | {result.chosen} | {_f(m.roc_auc)} | {_f(m.pr_auc)} | {_f(m.log_loss)} | {_f(m.brier)} | "
            f"{_f(m.ece)} | {result.artifact.metadata['calibration']['method']} | {reference:.3f} | "
            f"{'yes' if ok else 'NO'} | {seconds:.0f} |"
        )  # fmt: skip
        sys.stdout.write(lines[-1] + "\n")
        sys.stdout.flush()
    notes = [
        "",
        "Candidate columns: held-out ROC AUC of every candidate refitted on the training part (mean over folds",
        "for stratified settings); the choice is made on a validation part carved from the training part the",
        "same way as the test (its last 20% by time for time splits), never on the held-out rows. The chosen",
        "model's figures are for its calibrated probabilities (pooled out-of-fold for stratified settings).",
        "",
        "bank_additional by time stays below the reference: logistic regression reaches 0.748 on the test rows,",
        "but every validation window inside the training part prefers LightGBM. Rolling-origin folds (fit on",
        "the first 60/70/80/90% of the training part, validate on the next 10%) give LightGBM 0.526 / 0.516 /",
        "0.704 / 0.721 against logistic 0.481 / 0.379 / 0.469 / 0.725, so a mean-over-folds choice also picks",
        "LightGBM; blends of logistic with LightGBM or naive Bayes reach 0.741, LightGBM with fewer leaves",
        "0.642-0.654. No rule that looks only at the training part was found that picks logistic here.",
    ]
    text = "# Predictive scoring on the shared real data\n\n" + "\n".join(lines + notes) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {RESULTS}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
