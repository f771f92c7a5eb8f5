"""Held-out metrics for a probability score: ranking, probability quality, and what sales sees per decile."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass
class DecileRow:
    decile: int  # 1 = the highest-scored tenth
    rows: int
    positives: int
    rate: float
    lift: float
    cumulative_gain: float  # share of all positives found in deciles 1..this one


@dataclass
class CalibrationRow:
    bin: str
    rows: int
    mean_predicted: float
    observed_rate: float


@dataclass
class Metrics:
    rows: int
    positives: int
    base_rate: float
    roc_auc: float | None
    pr_auc: float | None
    log_loss: float
    brier: float
    ece: float
    deciles: list[DecileRow]
    calibration: list[CalibrationRow]

    def summary(self) -> dict[str, Any]:
        keys = ("rows", "positives", "base_rate", "roc_auc", "pr_auc", "log_loss", "brier", "ece")
        return {k: getattr(self, k) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def auc_or_none(y: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if y.min() == y.max():
        return None
    return float(roc_auc_score(y, scores))


def decile_table(y: np.ndarray, p: np.ndarray) -> list[DecileRow]:
    y = np.asarray(y, dtype="float64")
    order = np.argsort(-np.asarray(p), kind="stable")
    base = y.mean() if y.size else 0.0
    total_pos = y.sum()
    rows: list[DecileRow] = []
    found = 0.0
    for i, idx in enumerate(np.array_split(order, 10), start=1):
        pos = float(y[idx].sum())
        found += pos
        rate = pos / len(idx) if len(idx) else 0.0
        rows.append(
            DecileRow(
                decile=i,
                rows=len(idx),
                positives=int(pos),
                rate=rate,
                lift=rate / base if base > 0 else 0.0,
                cumulative_gain=found / total_pos if total_pos > 0 else 0.0,
            )
        )
    return rows


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[list[CalibrationRow], float]:
    """Equal-width probability bins; ECE is the row-weighted mean gap between predicted and observed."""
    y = np.asarray(y, dtype="float64")
    p = np.asarray(p, dtype="float64")
    which = np.minimum((p * bins).astype(int), bins - 1)
    rows: list[CalibrationRow] = []
    ece = 0.0
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        if n == 0:
            continue
        mean_p, rate = float(p[mask].mean()), float(y[mask].mean())
        ece += n / len(p) * abs(mean_p - rate)
        rows.append(CalibrationRow(f"{b / bins:.1f}-{(b + 1) / bins:.1f}", n, mean_p, rate))
    return rows, float(ece)


def compute_metrics(y: np.ndarray, p: np.ndarray) -> Metrics:
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss

    y = np.asarray(y).astype(int)
    p = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
    cal, ece = calibration_table(y, p)
    both = y.min() != y.max()
    return Metrics(
        rows=len(y),
        positives=int(y.sum()),
        base_rate=float(y.mean()),
        roc_auc=auc_or_none(y, p),
        pr_auc=float(average_precision_score(y, p)) if both else None,
        log_loss=float(log_loss(y, p, labels=[0, 1])),
        brier=float(brier_score_loss(y, p)),
        ece=ece,
        deciles=decile_table(y, p),
        calibration=cal,
    )


def segment_metrics(y: np.ndarray, p: np.ndarray, segments: np.ndarray, min_rows: int = 30) -> dict[str, Metrics]:
    """The same metrics per segment value; tiny segments are skipped (their AUC would be noise)."""
    import pandas as pd

    out: dict[str, Metrics] = {}
    series = pd.Series(np.asarray(segments, dtype="object"))
    labels = series.where(series.notna(), "(missing)").astype(str).to_numpy()
    for value in sorted(set(labels.tolist())):
        mask = labels == value
        if mask.sum() >= min_rows:
            out[str(value)] = compute_metrics(np.asarray(y)[mask], np.asarray(p)[mask])
    return out
