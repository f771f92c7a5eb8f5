"""How sure a figure is: bootstrap confidence intervals for every reported metric, the spread over
cross-validation folds, and a paired bootstrap for "is this candidate really better than that one"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

BOOTSTRAP = 200
LEVEL = 0.95
_MAX_ROWS = 50_000  # above this, replicates are drawn from a fixed subsample: the interval barely moves


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def _metric_values(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score

    from leadscore.predictive.metrics import calibration_table

    q = np.clip(p, 1e-6, 1 - 1e-6)
    out = {
        "log_loss": float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))),
        "brier": float(np.mean((q - y) ** 2)),
        "ece": calibration_table(y, q)[1],
        "base_rate": float(y.mean()),
        "mean_predicted": float(q.mean()),
    }
    if y.min() != y.max():
        out["roc_auc"] = _auc(y, q)
        out["pr_auc"] = float(average_precision_score(y, q))
    return out


def bootstrap_intervals(
    y: np.ndarray, p: np.ndarray, n_boot: int = BOOTSTRAP, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Percentile intervals (95%) of each metric over resamples of the rows, drawn with replacement."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype="float64")
    if len(y) < 20:
        return {}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    size = min(len(y), _MAX_ROWS)
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), size)
        for k, v in _metric_values(y[idx], p[idx]).items():
            samples.setdefault(k, []).append(v)
    lo, hi = (1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2
    # a subsample's interval is wider by sqrt(n / size); shrink it back around the full-data figure
    scale = np.sqrt(size / len(y))
    full = _metric_values(y, p)
    out = {}
    for k, values in samples.items():
        if len(values) < n_boot * 0.9 or k not in full:
            continue
        a, b = np.quantile(values, [lo, hi])
        a, b = full[k] - (full[k] - a) * scale, full[k] + (b - full[k]) * scale
        # ECE's bootstrap is biased upwards (resampled bins look less calibrated): the interval is widened
        # to hold the figure itself rather than shown beside it
        out[k] = (float(min(a, full[k])), float(max(b, full[k])))
    return out


@dataclass
class FoldSpread:
    values: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if len(self.values) > 1 else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "std": self.std,
            "min": float(min(self.values)),
            "max": float(max(self.values)),
            "folds": self.values,
        }

    def describe(self) -> str:
        lo, hi = min(self.values), max(self.values)
        return f"{self.mean:.3f} +/- {self.std:.3f} over {len(self.values)} folds ({lo:.3f}-{hi:.3f})"


@dataclass
class Difference:
    """AUC of a stronger candidate minus a simpler one on the same rows, with its bootstrap spread."""

    mean: float
    se: float

    @property
    def within_noise(self) -> bool:
        return self.mean <= self.se


def paired_difference(
    y: np.ndarray, better: np.ndarray, simpler: np.ndarray, n_boot: int = BOOTSTRAP, seed: int = 0
) -> Difference:
    """Resampling the rows once for both candidates keeps what they share out of the comparison."""
    y = np.asarray(y).astype(int)
    rng = np.random.default_rng(seed)
    diffs = []
    size = min(len(y), _MAX_ROWS)
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), size)
        if y[idx].min() == y[idx].max():
            continue
        diffs.append(_auc(y[idx], better[idx]) - _auc(y[idx], simpler[idx]))
    full = _auc(y, better) - _auc(y, simpler)
    se = float(np.std(diffs, ddof=1) * np.sqrt(size / len(y))) if len(diffs) > 1 else float("inf")
    return Difference(full, se)
