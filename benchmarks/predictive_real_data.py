"""Predictive scoring on the real shared data, in the six settings of shared/data/README.md.

Each setting is trained exactly as a user would (`train` with the same split), and every figure is on
held-out rows: the last 20% by file order for time splits, 5-fold stratified cross-validation otherwise.
Every figure carries its 95% bootstrap interval; stratified settings also show the spread over folds.
Time splits add the predicted against the actual base rate of the test period, and the figures after
walk-forward recalibration (each part of the test period recalibrated on the outcomes of the one
before, as `leadscore recalibrate` does in production, by either method). Writes benchmarks/results/predictive.md.

    .venv/bin/python benchmarks/predictive_real_data.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data from the project root, or wherever LEADSCORE_SHARED_DATA points (a checkout elsewhere)
DATA = Path(os.environ.get("LEADSCORE_SHARED_DATA", ROOT.parent / "shared" / "data"))
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

CANDIDATES = ("naive_bayes", "logistic", "scorecard", "lightgbm", "blend")
# the way of working documented in docs/predictive.md: recalibrate with the recommended method every
# sixteenth of the test period (about 500-560 leads here), each part on the outcomes of the one before
WAY_PARTS = 16


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ci(value: float | None, interval: tuple[float, float] | None) -> str:
    if value is None or interval is None:
        return _f(value)
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def _walk_forward(result: Any, frame: Any, chunks: int = 4, method: str | None = None) -> dict[str, Any]:
    """The test period with each part scored with the calibration refitted on the part before (the first
    with the trained calibration), by `method` (None: the one the training backtest recommended): ROC
    AUC and ECE with their 95% bootstrap intervals, the mean predicted probability and the mean AUC
    within the parts."""
    from leadscore.predictive.recalibration import walk_forward
    from leadscore.predictive.table import parse_label
    from leadscore.predictive.uncertainty import bootstrap_intervals

    test_rows = next(p["rows"] for p in result.parts if p["part"].startswith("test"))
    test = frame.iloc[len(frame) - test_rows :]
    run = walk_forward(result.artifact, test, chunks, method)  # type: ignore[arg-type]
    y = parse_label(test[result.artifact.label], result.artifact.label).to_numpy().astype(int)
    ci = bootstrap_intervals(y, run["probabilities"], seed=42)
    m = run["metrics"]
    return {
        "auc": _ci(m.roc_auc, ci.get("roc_auc")),
        "roc_auc": m.roc_auc,
        "ece": _ci(m.ece, ci.get("ece")),
        "ece_value": m.ece,
        "mean": float(run["probabilities"].mean()),
        "within": run["auc_within_parts"],
    }


def _guards(frame: Any, result: Any, file: str) -> list[str]:
    """The mistakes of the issue, repeated on real data: what the user now sees."""
    from leadscore.predictive.errors import DataError
    from leadscore.predictive.scoring import evaluate, predict

    out = []
    try:
        evaluate(result.artifact, frame)
        out.append(f"- evaluate on {file} itself: accepted (no training rows found)")
    except DataError as exc:
        out.append(f"- evaluate on {file} itself (the rows it trained on): refused: {exc}")
    top = next(iter(result.artifact.metadata.get("importance", {})), None)
    source = next((f.source for f in result.artifact.schema.features if f.name == top), None)
    if source:
        renamed = frame.rename(columns={source: source.upper() if source != source.upper() else source.lower()})
        try:
            predict(result.artifact, renamed.head(100))
            out.append(f"- predict with {source!r} renamed: accepted")
        except DataError as exc:
            out.append(f"- predict with {source!r} renamed: refused: {exc}")
    return out


def main() -> int:
    from leadscore.predictive import read_table, train

    if not DATA.exists():
        sys.stderr.write(f"no shared data at {DATA}\n")
        return 1
    only = sys.argv[1:]  # optional substrings of setting names, to rerun a few
    header = (
        "| setting | " + " | ".join(f"{c} AUC" for c in CANDIDATES)
        + " | chosen | ROC AUC [95% CI] | AUC per fold | PR AUC [95% CI] | log loss | Brier | ECE [95% CI] "
        "| base rate: predicted / actual | calibration | best reference | vs reference | seconds |"
    )  # fmt: skip
    lines = [header, "|" + "---|" * (len(CANDIDATES) + 13)]
    shifts: list[str] = []
    choices: list[str] = []
    recal = [
        "| setting | recalibrated every | method | ROC AUC (pooled) [95% CI] | ROC AUC within parts (mean) "
        "| ECE [95% CI] | base rate: predicted / actual |",
        "|---|---|---|---|---|---|---|",
    ]
    guards: list[str] = []
    rates: list[str] = []
    way = [
        "| setting | ROC AUC [95% CI] | best reference | vs reference | ECE [95% CI] | target (+0.010, ECE < 0.05) |",
        "|---|---|---|---|---|---|",
    ]
    for setting, file, label, exclude, split, reference in SETTINGS:
        if only and not any(o in setting for o in only):
            continue
        frame = read_table(DATA / file)
        start = time.perf_counter()
        result = train(frame, label, exclude=exclude, split=split, seed=42)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        held = {c.name: c.heldout_auc for c in result.candidates}
        m, ci = result.metrics, result.intervals
        gap = "-" if m.roc_auc is None else f"{round(m.roc_auc, 3) - reference:+.3f}"
        spread = f"{result.folds.mean:.3f} +/- {result.folds.std:.3f}" if result.folds else "-"
        lines.append(
            f"| {setting} | " + " | ".join(_f(held.get(c)) for c in CANDIDATES)
            + f" | {result.chosen} | {_ci(m.roc_auc, ci.get('roc_auc'))} | {spread} | "
            f"{_ci(m.pr_auc, ci.get('pr_auc'))} | {_f(m.log_loss)} | {_f(m.brier)} | {_ci(m.ece, ci.get('ece'))} | "
            f"{result.heldout_p.mean():.3f} / {m.base_rate:.3f} | {result.artifact.metadata['calibration']['method']} "
            f"| {reference:.3f} | {gap} | {seconds:.0f} |"
        )  # fmt: skip
        shift = result.shift.describe() if result.shift else "no scoring population"
        shifts.append(f"- {setting}: {shift}.")
        choices += [f"- {setting}: {n}" for n in result.notes if "chose " in n and not n.startswith("fold ")]
        choices += [f"- {setting}: {n}" for n in result.notes if n.startswith("fold 1:")]
        choices += [f"- {setting}: warning: {w}" for w in result.warnings if "leakage" in w]
        if split == "time":
            if result.base_rates is not None:
                rates.append(f"- {setting}: {result.base_rates.describe()}")
                rates += [f"  - warning: {w}" for w in result.warnings if "outside every labelled period" in w]
            recal.append(f"| {setting} | never | - | {_f(m.roc_auc)} | - | {_f(m.ece)} | "
                         f"{result.heldout_p.mean():.3f} / {m.base_rate:.3f} |")  # fmt: skip
            advice = result.artifact.metadata["calibration"].get("recalibration", {})
            recommended = advice.get("method", "sigmoid")
            rates.append(f"- {setting}: recalibration backtest: {recommended} recommended ({advice.get('why')})")
            aligned = result.artifact.metadata["calibration"].get("alignment") or {}
            rates.append(f"- {setting}: calibration aligned to the refitted model: {aligned.get('why')}")
            for chunks in (4, 8, 16):
                for method in (recommended, *(x for x in ("sigmoid", "shift") if x != recommended)):
                    w = _walk_forward(result, frame, chunks, method)
                    label = method if method == recommended else f"{method} (not recommended)"
                    recal.append(
                        f"| {setting} | 1/{chunks} of the test period | {label} | {w['auc']} | {w['within']:.3f} | "
                        f"{w['ece']} | {w['mean']:.3f} / {m.base_rate:.3f} |"
                    )
                    if chunks == WAY_PARTS and method == recommended:
                        gain = round(w["roc_auc"], 3) - reference
                        met = gain >= 0.010 - 1e-9 and w["ece_value"] < 0.05
                        way.append(
                            f"| {setting} | {w['auc']} | {reference:.3f} | {gain:+.3f} | {w['ece']} | "
                            f"{'met' if met else 'NOT met'} |"
                        )
        elif "stratified" in setting and file in (BANK, SHOP) and "no PageValues" not in setting:
            guards += _guards(frame, result, file)
        sys.stdout.write(lines[-1] + "\n")
        sys.stdout.flush()
    notes = [
        "",
        "Intervals: 95% bootstrap over the held-out rows (200 resamples; ECE's interval is widened to hold the",
        "figure, its bootstrap being biased upwards). AUC per fold: mean +/- standard deviation of the chosen",
        "model's held-out AUC over the 5 folds. `vs reference`: ROC AUC minus the best single reference model",
        "of shared/data/README.md (the target for the time splits is +0.010 or more).",
        "",
        "Why each model was chosen (the tournament prefers the simpler candidate when the validation difference",
        "is within one standard error of a paired bootstrap), and leakage warnings:",
        "",
        *choices,
        "",
        "Time splits with walk-forward recalibration: the test period cut in 4, 8 or 16 consecutive parts by",
        "file order; the first is scored as trained, each later one with the calibration refitted (`leadscore",
        "recalibrate`) on the outcomes of the part before - what a team that recalibrates on its latest",
        "outcomes gets. Every frequency is shown, with the method the training backtest recommended and the",
        "other one; neither was chosen by its result. ROC AUC within parts: the mean inside the parts, the",
        "trained model's ranking (a recalibration is monotone inside a part).",
        "",
        *recal,
        "",
        "The way of working of docs/predictive.md (what `train` picks, then `leadscore recalibrate` with the",
        f"recommended method on the outcomes of each 1/{WAY_PARTS} of the test period for the next one):",
        "",
        *way,
        "",
        "Base rates by time (`base_rates` of the report): the training part's rate in five consecutive periods,",
        "the most recent labelled period (the validation window, where the calibration is fitted), and the",
        "mean predicted probability for the test period against its actual rate; `train` warns when the",
        "prediction lies outside every labelled period's rate (by a factor of 1.5):",
        "",
        *rates,
        "",
        "Guards, on the real files (the mistakes of a hurried user):",
        "",
        *guards,
        "",
        "Candidate columns: held-out ROC AUC of every candidate refitted on the training part (mean over folds",
        "for stratified settings); the choice is made on a validation part carved from the training part the",
        "same way as the test (its last 20% by time for time splits), never on the held-out rows. The chosen",
        "model's figures are for its calibrated probabilities (pooled out-of-fold for stratified settings).",
        "scorecard: logistic regression over binned numbers (deciles, a value held by 10% of the rows or more",
        "in a bin of its own) and categories, weighed jointly. Under a time split LightGBM stops early on the",
        "last fifth of the fit part, never on the validation window that judges the candidates.",
        "",
        "High-cardinality categories: no column of the shared files loses values to the (other) bucket (every",
        "category has 5 rows or more and there are fewer than 100), so the choice between the bucket and",
        "out-of-fold target encoding does not arise here; see benchmarks/results/predictive_generated.md for",
        "generated leads whose `account` column has thousands of values.",
        "",
        "Population shift (features only, never outcomes): `train` compares the training part with the",
        "population the model will score - here the held-out rows' features (the test period for time splits,",
        "each fold's test rows otherwise), as a production system has today's unscored leads. A LightGBM",
        "classifier, cross-fitted, tries to tell the two apart; at an AUC of 0.75 or more a shift is reported,",
        "with the features it used most. Where 20% or more of the population lies beyond the training range",
        "of a numeric feature, trees and binned models score it like the edge of the range. If the later",
        "validation window also lies beyond the range of the fit part (20% or more of it, on every such",
        "feature), validation has measured what each candidate does there and the choice is left to it;",
        "otherwise the choice is kept to candidates whose own additive term for each such feature is linear in",
        "it, and calibration is sigmoid. Shift found per setting:",
        "",
        *shifts,
        "",
        "bank_additional by time: the economic indicators have moved all along, so the validation window",
        "(last 20% of the training part) lies beyond the fit part's range on 80-90% of its rows, as the test",
        "period does beyond the training part's. The choice is left to validation, which puts the scorecard",
        "first; recency weighting (half-life 20% of the span) is kept on the same window (+0.018 AUC there).",
        "Before the change the shift rule kept the choice to logistic regression (0.749).",
        "",
        "Time splits against the target of +0.010 AUC over the best single reference (0.730 bank_full, 0.748",
        "bank_additional) with an ECE under 0.05: reached on both with the way of working above (the trained",
        "model alone reaches it on bank_additional's AUC only; bank_full stays with naive Bayes at 0.730 until",
        "its probabilities follow the rate). Measured on bank_full while developing, every figure the",
        "held-out test AUC of a model fitted on the first 80%, and the validation AUC (fit on the first 64%,",
        "judged on the next 16%) that would have had to choose it:",
        "- scorecard 0.681-0.701 (validation 0.625-0.635, below naive Bayes' 0.639), with recency weighting",
        "  (half-life 100% or 50% of the span) 0.679-0.700;",
        "- naive Bayes with a heavy value in its own bin 0.729 (validation 0.652); smoothing 1.0: 0.730;",
        "- greedy removal of features on validation: 0.724-0.736 along the path, 0.732 when it stops at a gain",
        "  within one standard error, 0.729 when it stops at no gain (validation 0.684) - validation gains the",
        "  test period does not repeat; naive Bayes without day, age and marital, a set read off ablations on",
        "  the test rows (so no fair figure), 0.739 (validation 0.652);",
        "- naive Bayes with recency weighting of some features only (month; month and day; poutcome, pdays,",
        "  previous; half-lives 50%, 20%, 10% of the span): 0.698-0.730, never above the plain model;",
        "- blends with equal weights: naive Bayes + logistic 0.715, naive Bayes + LightGBM 0.714, naive Bayes",
        "  + scorecard 0.706-0.727, all three 0.710; LightGBM with stumps or 3 leaves 0.656-0.672.",
        "Most of the test AUC is between periods: within each quarter of the test period naive Bayes ranks at",
        "0.58-0.67, while the quarters convert at 8%, 24%, 41% and 53%. A trend term on row order would rank",
        "later quarters higher and flatter the pooled figure, but leads scored on the same day share the",
        "trend, so it was not tried as a feature.",
        "",
        "Calibration: the test periods convert at 31-32% against 12.7% (bank_additional) and 13.7% (bank_full)",
        "in the most recent labelled period of the training part (the validation window, where the calibration",
        "is fitted), and at no more than 18%",
        "in any twentieth of the training part: no calibration fitted on training labels can reach an ECE",
        "under 0.05 there. Measured while developing: refitting the sigmoid on the last half or quarter of the",
        "window gives ECE 0.092 / 0.157 (bank_full, naive Bayes) and 0.204 / 0.067 (bank_additional, scorecard",
        "without weighting) - no steady gain; estimating the new base rate from the test period's features by",
        "expectation-maximisation (prior shift) runs away to a rate near 1 under a shift this large. The",
        "walk-forward table above is what the outcomes of the scoring period itself bring. The trained",
        "calibration is aligned to the refitted model (`calibration.alignment`): the curve is fitted on the",
        "window's scores by the model fitted before it, the refitted model has learnt the window's rate, and",
        "the offset that brings its mean on the window back to the window's rate keeps the rise from being",
        "counted twice (bank_additional: mean predicted 0.617 before, 0.422 after; bank_full 0.277 before,",
        "0.167 after, whose doubled rise had happened to anticipate the test period's climb).",
    ]
    text = "# Predictive scoring on the shared real data\n\n" + "\n".join(lines + notes) + "\n"
    if only:  # a partial run never replaces the full table
        sys.stdout.write(text)
        return 0
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {RESULTS}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
