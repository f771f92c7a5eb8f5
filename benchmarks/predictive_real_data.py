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
    shifts: list[str] = []
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
        shift = result.shift.describe() if result.shift else "no scoring population"
        shifts.append(f"- {setting}: {shift}.")
        sys.stdout.write(lines[-1] + "\n")
        sys.stdout.flush()
    notes = [
        "",
        "Candidate columns: held-out ROC AUC of every candidate refitted on the training part (mean over folds",
        "for stratified settings); the choice is made on a validation part carved from the training part the",
        "same way as the test (its last 20% by time for time splits), never on the held-out rows. The chosen",
        "model's figures are for its calibrated probabilities (pooled out-of-fold for stratified settings).",
        "",
        "Population shift (features only, never outcomes): `train` compares the training part with the",
        "population the model will score - here the held-out rows' features (the test period for time splits,",
        "each fold's test rows otherwise), as a production system has today's unscored leads. A LightGBM",
        "classifier, cross-fitted, tries to tell the two apart; at an AUC of 0.75 or more a shift is reported,",
        "with the features it used most. Where 20% or more of the population lies beyond the training range",
        "of a numeric feature, trees and binned naive Bayes score it like the edge of the range, and no",
        "validation window inside the training part can show the cost (it lies inside the range too). The",
        "choice is then kept to candidates whose own additive term for each such feature is linear in it",
        "(read from their contributions, so any candidate type is judged the same way), and calibration is",
        "sigmoid (isotonic steps are flat where the shifted leads land). A shift inside the training range",
        "leaves the choice to the validation window as before. Shift found per setting:",
        "",
        *shifts,
        "",
        "bank_additional by time: the late period has euribor3m below anything in the training part for 99% of",
        "its rows, so only logistic regression (linear in it) stays eligible. Importance-weighting the last",
        "validation window by the adversarial odds p/(1-p) was measured too: it ranks logistic (0.742) over",
        "naive Bayes (0.722) and LightGBM (0.678) but puts the blend first (0.746) on an effective sample of",
        "about 58 rows, and on bank_full by time (a shift inside the range) it picks logistic (0.752 weighted;",
        "0.683 on the test rows against naive Bayes 0.730), so weighting is not used for the choice.",
    ]
    text = "# Predictive scoring on the shared real data\n\n" + "\n".join(lines + notes) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {RESULTS}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
