"""Using an artifact: batch prediction with top factors, evaluation on labelled data, live drift."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from leadscore.predictive.artifact import Artifact
from leadscore.predictive.drift import RETRAIN, DriftRow, drift_rows, psi, shares_like, status_of
from leadscore.predictive.errors import DataError
from leadscore.predictive.explain import top_factors
from leadscore.predictive.guards import Overlap, check_inputs, training_overlap
from leadscore.predictive.metrics import Metrics, compute_metrics, segment_metrics
from leadscore.predictive.phrasing import feature_labels
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


def predict(
    artifact: Artifact, frame: pd.DataFrame, top: int = 3, keep: list[str] | None = None, allow_missing: bool = False
) -> pd.DataFrame:
    """One row per input row: kept identifying columns, `score` (a probability), and the top factors.

    By default the columns the model dropped as ids are kept, so the output can be joined back. Input
    columns the model uses must all be there (see `guards.check_inputs`) unless `allow_missing`.
    """
    import pandas as pd

    check_inputs(artifact, frame, allow_missing)
    X = _features(artifact, frame)
    raw = artifact.model.decision_function(X)
    out = pd.DataFrame(index=frame.index)
    id_columns = [c for c, why in artifact.schema.dropped.items() if why.startswith("id-like")]
    for col in keep if keep is not None else id_columns:
        if col in frame.columns:
            out[col] = frame[col].to_numpy()
    out["score"] = artifact.calibrator.predict(raw)
    if top > 0:
        phrases = feature_labels(artifact.schema.features, X, artifact.drift)
        positive, negative = top_factors(X, artifact.model.contributions(X), top, phrases)
        out["top_positive"] = positive
        out["top_negative"] = negative
    return out.reset_index(drop=True)


@dataclass
class Evaluation:
    version: str
    metrics: Metrics
    segments: dict[str, Metrics] = field(default_factory=dict)
    overlap: Overlap | None = None  # rows of the frame the model was trained on (None: no fingerprint)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def heldout(self) -> bool:
        return self.overlap is None or not self.overlap.flagged

    def report(self) -> dict[str, Any]:
        return {
            **self.metrics.summary(),
            "version": self.version,
            "heldout": self.heldout,
            "training_rows": self.overlap.training_rows if self.overlap else None,
            "confidence_intervals": {k: list(v) for k, v in self.intervals.items()},
            "segments": {k: v.summary() for k, v in self.segments.items()},
            "notes": self.notes,
            "warnings": self.warnings,
        }


def evaluate(
    artifact: Artifact,
    frame: pd.DataFrame,
    segment: str | None = None,
    *,
    allow_training_rows: bool = False,
    allow_missing: bool = False,
) -> Evaluation:
    """Metrics of the artifact on labelled rows. Rows it was trained on are refused (their figures would
    flatter it) unless `allow_training_rows`, and then the evaluation says it is not held-out."""
    from leadscore.predictive.guards import suggest
    from leadscore.predictive.uncertainty import bootstrap_intervals

    label = artifact.label
    if label not in frame.columns:
        hint = suggest(label, [str(c) for c in frame.columns])
        did = f" (did you mean {hint!r}?)" if hint else ""
        raise DataError(f"the label column {label!r} the model was trained on is missing{did}; evaluation needs it")
    if segment is not None and segment not in frame.columns:
        raise DataError(f"unknown segment column {segment!r}")
    check = check_inputs(artifact, frame, allow_missing)
    y = parse_label(frame[label], label).to_numpy()
    X = _features(artifact, frame)
    p = artifact.calibrator.predict(artifact.model.decision_function(X))
    overlap = training_overlap(artifact, X, y)
    warnings = list(check.warnings)
    if overlap is not None and overlap.flagged:
        if not allow_training_rows:
            raise DataError(overlap.describe() + "; evaluate on rows kept out of training, or --allow-training-rows")
        warnings.insert(0, overlap.describe())
    seg = segment_metrics(y, p, frame[segment].to_numpy()) if segment else {}
    intervals = bootstrap_intervals(y, p)
    return Evaluation(artifact.version, compute_metrics(y, p), seg, overlap, check.notes, warnings, intervals)


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
