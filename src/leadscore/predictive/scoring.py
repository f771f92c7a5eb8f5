"""Using an artifact: batch prediction with top factors, evaluation on labelled data, live drift."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from leadscore.predictive.artifact import Artifact
from leadscore.predictive.drift import RETRAIN, DriftRow, drift_rows, psi, shares_like, status_of
from leadscore.predictive.errors import DataError
from leadscore.predictive.explain import top_factors
from leadscore.predictive.metrics import Metrics, compute_metrics, segment_metrics
from leadscore.predictive.table import parse_label

if TYPE_CHECKING:
    import pandas as pd


def _features(artifact: Artifact, frame: pd.DataFrame) -> pd.DataFrame:
    present = {f.source for f in artifact.schema.features} & set(frame.columns)
    if not present:
        expected = ", ".join(sorted({f.source for f in artifact.schema.features})[:20])
        raise DataError(f"data: none of the model's input columns are present; expected some of: {expected}")
    return artifact.schema.transform(frame)


def probabilities(artifact: Artifact, frame: pd.DataFrame) -> np.ndarray:
    X = _features(artifact, frame)
    return artifact.calibrator.predict(artifact.model.decision_function(X))


def predict(artifact: Artifact, frame: pd.DataFrame, top: int = 3, keep: list[str] | None = None) -> pd.DataFrame:
    """One row per input row: kept identifying columns, `score` (a probability), and the top factors.

    By default the columns the model dropped as ids are kept, so the output can be joined back.
    """
    import pandas as pd

    X = _features(artifact, frame)
    raw = artifact.model.decision_function(X)
    out = pd.DataFrame(index=frame.index)
    id_columns = [c for c, why in artifact.schema.dropped.items() if why.startswith("id-like")]
    for col in keep if keep is not None else id_columns:
        if col in frame.columns:
            out[col] = frame[col].to_numpy()
    out["score"] = artifact.calibrator.predict(raw)
    if top > 0:
        positive, negative = top_factors(X, artifact.model.contributions(X), top)
        out["top_positive"] = positive
        out["top_negative"] = negative
    return out.reset_index(drop=True)


@dataclass
class Evaluation:
    version: str
    metrics: Metrics
    segments: dict[str, Metrics] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {
            **self.metrics.summary(),
            "version": self.version,
            "segments": {k: v.summary() for k, v in self.segments.items()},
        }


def evaluate(artifact: Artifact, frame: pd.DataFrame, segment: str | None = None) -> Evaluation:
    label = artifact.label
    if label not in frame.columns:
        raise DataError(f"data: the label column {label!r} the model was trained on is missing; evaluation needs it")
    if segment is not None and segment not in frame.columns:
        raise DataError(f"data: unknown segment column {segment!r}")
    y = parse_label(frame[label], label).to_numpy()
    p = probabilities(artifact, frame)
    seg = segment_metrics(y, p, frame[segment].to_numpy()) if segment else {}
    return Evaluation(artifact.version, compute_metrics(y, p), seg)


@dataclass
class DriftReport:
    features: list[DriftRow]
    score_psi: float
    score_status: str
    training_mean_score: float | None
    live_mean_score: float
    warnings: list[str]

    @property
    def retrain(self) -> bool:
        return bool(self.warnings)

    def report(self) -> dict[str, Any]:
        return {
            "score_psi": self.score_psi,
            "score_status": self.score_status,
            "training_mean_score": self.training_mean_score,
            "live_mean_score": self.live_mean_score,
            "retrain": self.retrain,
            "warnings": self.warnings,
            "features": [r.__dict__ for r in self.features],
        }


def live_drift(artifact: Artifact, frame: pd.DataFrame) -> DriftReport:
    """Compare today's features and scores with the training population (no labels needed)."""
    import pandas as pd

    X = _features(artifact, frame)
    probs = artifact.calibrator.predict(artifact.model.decision_function(X))
    summaries = {k: v for k, v in artifact.drift.items() if k != "__score__"}
    rows = drift_rows(summaries, X)
    score_summary = artifact.drift["__score__"]
    score_psi = psi(score_summary["shares"], shares_like(score_summary, pd.Series(probs, dtype="float64")))
    importance: dict[str, float] = artifact.metadata.get("importance", {})
    ranked = list(importance)[: max(5, len(importance) // 3)]
    warnings = []
    if score_psi > RETRAIN:
        warnings.append(f"the score distribution has shifted (PSI {score_psi:.2f} > {RETRAIN}): retrain the model")
    for row in rows:
        if row.psi > RETRAIN and row.name in ranked:
            warnings.append(
                f"important feature {row.name} has drifted (PSI {row.psi:.2f} > {RETRAIN}): retrain the model"
            )
    missing = sorted({f.source for f in artifact.schema.features} - set(frame.columns))
    if missing:
        warnings.append("input columns missing from the live data: " + ", ".join(missing))
    train_mean = artifact.metadata.get("training_mean_score")
    return DriftReport(rows, score_psi, status_of(score_psi), train_mean, float(np.mean(probs)), warnings)
