"""Recalibration on the most recent labelled leads: the model's ranking is kept, only the curve from its
score to a probability is refitted. When the conversion rate moves (a campaign, a season, a new market),
the ranking often still holds while the probabilities drift off; a few hundred recent outcomes fix them
without retraining."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from leadscore.predictive.artifact import Artifact
from leadscore.predictive.calibration import Calibrator
from leadscore.predictive.calibration import Method as CurveMethod
from leadscore.predictive.errors import DataError
from leadscore.predictive.guards import check_inputs, training_overlap
from leadscore.predictive.table import parse_label

if TYPE_CHECKING:
    import pandas as pd

MIN_ROWS = 50
MIN_EACH = 5
BACKTEST_CHUNKS = 4

Method = Literal["sigmoid", "shift"]
METHODS: tuple[Method, ...] = ("sigmoid", "shift")


def _row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(-(y * np.log(q) + (1 - y) * np.log(1 - q)))


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    return float(_row_log_loss(y, p).mean())


def _enough(y: np.ndarray) -> bool:
    return len(y) >= MIN_ROWS and min(int(y.sum()), len(y) - int(y.sum())) >= MIN_EACH


def _refit(method: Method, current: Calibrator, scores: np.ndarray, y: np.ndarray) -> Calibrator:
    """sigmoid: a new curve (slope and intercept) on the recent outcomes. shift: the current curve moved
    by one number, the log-odds offset that brings its mean to the recent rate."""
    return Calibrator("sigmoid").fit(scores, y) if method == "sigmoid" else current.shifted(scores, y)


def backtest(
    scores: np.ndarray, y: np.ndarray, chunks: int = BACKTEST_CHUNKS, curve: CurveMethod = "sigmoid"
) -> dict[str, Any]:
    """Which recalibration follows a moving rate better, tried on the labelled past: `scores` and `y` are
    the latest labelled period in time order (the validation window, scored by the model fitted before
    it). It is cut into `chunks` consecutive parts; a curve of the trained calibration's kind (`curve`)
    fitted on the first stands for the trained calibration, and each later part is scored after
    recalibrating on the part before it, by each method, as `leadscore recalibrate` would be used every
    period. The method with the lower log loss over those parts is recommended, the shift (one
    parameter, the curve's validated shape kept) unless the sigmoid is better by more than one standard
    error of the paired per-lead difference.

    A refitted sigmoid also learns a new slope from a few hundred outcomes: worth it when the model's
    scores grow more or less telling over time, noise when only the rate moves."""
    scores = np.asarray(scores, dtype="float64")
    y = np.asarray(y).astype(int)
    pieces = np.array_split(np.arange(len(y)), chunks)
    if chunks < 3 or not all(_enough(y[p]) for p in pieces):
        return {"method": "sigmoid", "why": "too few outcomes in the latest labelled period to compare methods"}
    base = Calibrator(curve).fit(scores[pieces[0]], y[pieces[0]])
    row_losses: dict[str, np.ndarray] = {}
    for method in METHODS:
        parts = []
        for before, part in itertools.pairwise(pieces[1:]):
            curve = _refit(method, base, scores[before], y[before])
            parts.append(_row_log_loss(y[part], curve.predict(scores[part])))
        row_losses[method] = np.concatenate(parts)
    losses = {method: float(row_losses[method].mean()) for method in METHODS}
    # the same rows for both: the standard error of the paired difference is what the comparison can tell
    gain = row_losses["shift"] - row_losses["sigmoid"]
    se = float(gain.std(ddof=1) / np.sqrt(len(gain)))
    best: Method = "sigmoid" if gain.mean() > se else "shift"
    return {
        "method": best,
        "log_loss": losses,
        "standard_error": se,
        "chunks": chunks,
        "why": (
            f"recalibrating each of {chunks} parts of the latest labelled period on the part before: log loss "
            f"{losses['shift']:.4f} with a base-rate shift, {losses['sigmoid']:.4f} with a refitted sigmoid "
            f"(one standard error {se:.4f}"
            + ("): the new slope pays" if best == "sigmoid" else "; the shift, one parameter, unless worse beyond it)")
        ),
    }


def recommended(artifact: Artifact) -> Method:
    """The method the training backtest chose (sigmoid for artifacts trained without a time split)."""
    method = artifact.metadata.get("calibration", {}).get("recalibration", {}).get("method", "sigmoid")
    return "shift" if method == "shift" else "sigmoid"


def recalibrate(
    artifact: Artifact, frame: pd.DataFrame, method: Method | None = None
) -> tuple[Artifact, dict[str, Any]]:
    """A copy of the artifact whose calibration is refitted on `frame`'s recent outcomes: a new sigmoid, or
    (`shift`) the trained curve moved to their base rate. None: the method the training backtest chose.

    Refused on rows the model was trained on (their scores are optimistic) and on too few outcomes."""
    if method is None:
        method = recommended(artifact)
    if method not in METHODS:
        raise DataError(f"unknown recalibration method {method!r}; use {' or '.join(METHODS)}")
    label = artifact.label
    if label not in frame.columns:
        raise DataError(f"the label column {label!r} is missing; recalibration needs recent outcomes")
    check_inputs(artifact, frame)
    y = parse_label(frame[label], label).to_numpy().astype(int)
    if not _enough(y):
        raise DataError(
            f"{len(y)} rows with {int(y.sum())} conversions; recalibration needs at least {MIN_ROWS} rows and "
            f"{MIN_EACH} of each outcome"
        )
    X = artifact.schema.transform(frame)
    overlap = training_overlap(artifact, X, y)
    if overlap is not None and overlap.flagged:
        raise DataError(overlap.describe() + "; recalibrate on recent leads the model was not trained on")
    scores = artifact.model.decision_function(X)
    before = artifact.calibrator.predict(scores)
    calibrator = _refit(method, artifact.calibrator, scores, y)
    after = calibrator.predict(scores)
    summary = {
        "method": method,
        "rows": len(y),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()),
        "mean_predicted_before": float(before.mean()),
        "mean_predicted_after": float(after.mean()),
        "log_loss_before": _log_loss(y, before),
        "log_loss_after": _log_loss(y, after),
        "previous_version": artifact.version,
    }
    meta = {k: v for k, v in artifact.metadata.items() if k != "version"}
    meta["calibration"] = {**meta.get("calibration", {}), "method": calibrator.method, "recalibrated": summary}
    out = Artifact(
        artifact.schema, artifact.model, calibrator, label, meta, artifact.drift, fingerprint=artifact.fingerprint
    )
    return out, summary


def walk_forward(artifact: Artifact, frame: pd.DataFrame, parts: int, method: Method | None = None) -> dict[str, Any]:
    """What recalibrating every period would have given on labelled leads the model never trained on, in
    time order (`frame`): cut in `parts` consecutive parts, the first scored as trained, each later one
    after `recalibrate` on the outcomes of the part before. Returns the probabilities and the metrics on
    all of them, with the mean ROC AUC inside the parts, which no recalibration changes (monotone within
    a part); the pooled AUC also compares leads of different parts, scored with different curves."""
    from leadscore.predictive.metrics import auc_or_none, compute_metrics
    from leadscore.predictive.scoring import probabilities

    if artifact.label not in frame.columns:
        raise DataError(f"the label column {artifact.label!r} is missing; a walk-forward needs outcomes")
    pieces = np.array_split(np.arange(len(frame)), parts)
    model, probs = artifact, []
    for k, idx in enumerate(pieces):
        if k > 0:
            model, _ = recalibrate(artifact, frame.iloc[pieces[k - 1]], method)
        probs.append(probabilities(model, frame.iloc[idx]))
    y = parse_label(frame[artifact.label], artifact.label).to_numpy().astype(int)
    p = np.concatenate(probs)
    within = [a for idx in pieces if (a := auc_or_none(y[idx], p[idx])) is not None]
    return {
        "method": method or recommended(artifact),
        "parts": parts,
        "probabilities": p,
        "metrics": compute_metrics(y, p),
        "auc_within_parts": float(np.mean(within)) if within else None,
    }
