"""The scorecard candidate: logistic regression over binned numbers (the credit-scoring scorecard).

Naive Bayes bins numbers but counts every feature on its own, so correlated features (several economic
indicators that move together, previous contacts and their outcome) are counted several times over.
Plain logistic regression fits them jointly but draws a straight line through every number, which is
wrong for a count with a spike at zero or an indicator that matters only in one range. The scorecard
takes both halves: numbers become bins (deciles, with a value that holds a tenth of the rows or more in a
bin of its own, so a spike at -1 or 0 is not smeared over its neighbours) and one logistic regression
weighs every bin and category jointly. A value beyond the training range falls in the edge bin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator

from leadscore.predictive.estimators import LogisticScorer

if TYPE_CHECKING:
    import pandas as pd

HEAVY_SHARE = 0.1  # a value held by this share of the rows or more gets a bin of its own


def bin_edges(values: np.ndarray, bins: int = 10) -> np.ndarray:
    """Right-closed bin edges: quantiles of the values other than the heavy ones, plus a bin of its own
    for each heavy value (edges at the value and just above it)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.array([], dtype="float64")
    distinct, counts = np.unique(finite, return_counts=True)
    heavy = distinct[counts >= HEAVY_SHARE * finite.size]
    rest = finite[~np.isin(finite, heavy)]
    edges = list(np.quantile(rest, np.linspace(0, 1, bins + 1)[1:-1])) if rest.size else []
    for value in heavy:
        edges += [float(value), float(np.nextafter(value, np.inf))]
    return np.unique(np.asarray(edges, dtype="float64"))


def _binned(X: pd.DataFrame, edges: dict[str, np.ndarray], ranges: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """Numbers replaced by their bin as a category ("b0".."bk"; missing stays missing). Values beyond the
    training range are first brought to its edge, so they share the edge bin (never an empty one)."""
    import pandas as pd

    out: dict[str, object] = {}
    for name in X.columns:
        if name not in edges:
            out[name] = X[name]
            continue
        values = np.clip(X[name].to_numpy(dtype="float64"), *ranges[name])
        codes = np.searchsorted(edges[name], values, side="right")
        codes[np.isnan(values)] = -1
        names = pd.Index([f"b{i}" for i in range(len(edges[name]) + 1)])
        out[name] = pd.Categorical.from_codes(codes, categories=names)
    return pd.DataFrame(out, index=X.index)


def _range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (-np.inf, np.inf)


class ScorecardScorer(BaseEstimator):
    """Logistic regression over binned numbers and categories; one additive term per input column."""

    def __init__(self, C: float = 0.3, bins: int = 10, min_frequency: int = 20, seed: int = 42) -> None:
        self.C = C
        self.bins = bins
        self.min_frequency = min_frequency
        self.seed = seed

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> ScorecardScorer:
        self.feature_names_ = list(X.columns)
        self.edges_ = {
            name: bin_edges(X[name].to_numpy(dtype="float64"), self.bins)
            for name in X.columns
            if X[name].dtype.kind == "f"
        }
        self.ranges_ = {name: _range(X[name].to_numpy(dtype="float64")) for name in self.edges_}
        self.logistic_ = LogisticScorer(C=self.C, min_frequency=self.min_frequency, seed=self.seed)
        self.logistic_.fit(_binned(X, self.edges_, self.ranges_), y, sample_weight=sample_weight)
        self.expected_value_ = self.logistic_.expected_value_
        self.tables_ = self._tables()
        return self

    def _tables(self) -> list[np.ndarray]:
        """Each column's term by code (the last entry for missing or unseen), read off the fitted logistic
        regression: scoring is then one lookup per column, with no design matrix to build."""
        logistic, pos, tables = self.logistic_, 0, []
        for j, name in enumerate(self.feature_names_):
            levels = logistic.levels_[name]
            width = max(int(levels.max()) + 1, 1)
            weights = np.append(logistic.coef_[pos : pos + width], 0.0)  # level -1 (never seen): zero
            tables.append(weights[levels] - logistic.train_means_[j])
            pos += width
        return tables

    def _code(self, X: Any, name: str) -> np.ndarray:
        """Per row, the index into the column's table: its bin or category, the last slot when missing."""
        size = len(self.tables_[self.feature_names_.index(name)])
        if name in self.edges_:
            values = np.clip(np.asarray(X[name].to_numpy(dtype="float64")), *self.ranges_[name])
            codes = np.searchsorted(self.edges_[name], values, side="right")
            codes[np.isnan(values)] = size - 1
            return codes
        codes = np.asarray(X[name].cat.codes.to_numpy(), dtype=np.int64)
        codes[codes < 0] = size - 1
        return codes

    def contributions(self, X: Any) -> np.ndarray:
        out = np.empty((len(X), len(self.feature_names_)), dtype="float64")
        for j, name in enumerate(self.feature_names_):
            out[:, j] = self.tables_[j][self._code(X, name)]
        return out

    def decision_function(self, X: Any) -> np.ndarray:
        return self.expected_value_ + self.contributions(X).sum(axis=1)
