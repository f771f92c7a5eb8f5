"""Recalibration on the most recent labelled leads: the model's ranking is kept, only the curve from its
score to a probability is refitted. When the conversion rate moves (a campaign, a season, a new market),
the ranking often still holds while the probabilities drift off; a few hundred recent outcomes fix them
without retraining."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from leadscore.predictive.artifact import Artifact
from leadscore.predictive.calibration import Calibrator
from leadscore.predictive.errors import DataError
from leadscore.predictive.guards import check_inputs, training_overlap
from leadscore.predictive.table import parse_label

if TYPE_CHECKING:
    import pandas as pd

MIN_ROWS = 50
MIN_EACH = 5


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def recalibrate(artifact: Artifact, frame: pd.DataFrame) -> tuple[Artifact, dict[str, Any]]:
    """A copy of the artifact whose calibration curve (sigmoid) is fitted on `frame`'s recent outcomes.

    Refused on rows the model was trained on (their scores are optimistic) and on too few outcomes."""
    label = artifact.label
    if label not in frame.columns:
        raise DataError(f"the label column {label!r} is missing; recalibration needs recent outcomes")
    check_inputs(artifact, frame)
    y = parse_label(frame[label], label).to_numpy().astype(int)
    if len(y) < MIN_ROWS or min(y.sum(), len(y) - y.sum()) < MIN_EACH:
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
    calibrator = Calibrator("sigmoid").fit(scores, y)
    after = calibrator.predict(scores)
    summary = {
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
    meta["calibration"] = {**meta.get("calibration", {}), "method": "sigmoid", "recalibrated": summary}
    out = Artifact(
        artifact.schema, artifact.model, calibrator, label, meta, artifact.drift, fingerprint=artifact.fingerprint
    )
    return out, summary
