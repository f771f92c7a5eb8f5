"""Candidate scorers on a feature frame (float columns and pandas categoricals).

Each follows scikit-learn conventions (parameters in __init__, learned attributes end in `_`, `fit` returns
self) and adds what lead scoring needs: `decision_function` on the log-odds scale and `contributions`,
one additive term per feature such that `expected_value_ + contributions.sum(1) == decision_function`.
That identity is what lets every score carry its top factors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from sklearn.base import BaseEstimator

if TYPE_CHECKING:
    import pandas as pd


class Scorer(Protocol):
    expected_value_: float
    feature_names_: list[str]

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> Any: ...

    def decision_function(self, X: pd.DataFrame) -> np.ndarray: ...

    def contributions(self, X: pd.DataFrame) -> np.ndarray: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...


def _codes(X: pd.DataFrame, name: str, edges: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Integer code per row and the number of codes; missing/unknown values get the last code."""
    col = X[name]
    if edges is None:
        codes = col.cat.codes.to_numpy().astype(np.int64)
        k = len(col.cat.categories) + 1
        codes[codes < 0] = k - 1
        return codes, k
    values = col.to_numpy(dtype="float64")
    k = len(edges) + 2
    codes = np.searchsorted(edges, values, side="right").astype(np.int64)
    codes[np.isnan(values)] = k - 1
    return codes, k


def _decile_edges(values: np.ndarray) -> np.ndarray:
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return np.array([], dtype="float64")
    return np.unique(np.quantile(finite, np.linspace(0.1, 0.9, 9)))


class NaiveBayesScorer(BaseEstimator):
    """Value-frequency naive Bayes of the kind Odoo CRM uses: numbers in training deciles, smoothed counts.

    Ignores interactions, so it is weak in-sample but often the most robust when conditions drift.
    """

    def __init__(self, smoothing: float = 0.1) -> None:
        self.smoothing = smoothing

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> NaiveBayesScorer:
        y = np.asarray(y, dtype="float64")
        # weights are rescaled to sum to the row count, so the smoothing keeps its meaning
        rw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype="float64")
        rw = rw * (len(y) / rw.sum())
        self.feature_names_ = list(X.columns)
        self.edges_: dict[str, np.ndarray | None] = {}
        self.weights_: dict[str, np.ndarray] = {}
        self.means_: dict[str, float] = {}
        n1, n0 = (rw * y).sum(), (rw * (1 - y)).sum()
        a = self.smoothing
        for name in self.feature_names_:
            numeric = X[name].dtype.kind == "f"
            edges = _decile_edges(X[name].to_numpy(dtype="float64")) if numeric else None
            codes, k = _codes(X, name, edges)
            c1 = np.bincount(codes, weights=rw * y, minlength=k)
            c0 = np.bincount(codes, weights=rw * (1 - y), minlength=k)
            seen = (c1 + c0) > 0
            w = np.log((c1 + a) / (n1 + a * k)) - np.log((c0 + a) / (n0 + a * k))
            w[~seen] = 0.0  # a value never seen in training says nothing
            self.edges_[name], self.weights_[name] = edges, w
            self.means_[name] = float(np.average(w[codes], weights=rw))
        self.prior_ = float(np.log(n1 / n0))
        self.expected_value_ = self.prior_ + sum(self.means_.values())
        return self

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.feature_names_)), dtype="float64")
        for j, name in enumerate(self.feature_names_):
            codes, _ = _codes(X, name, self.edges_[name])
            out[:, j] = self.weights_[name][codes] - self.means_[name]
        return out

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.expected_value_ + self.contributions(X).sum(axis=1)


class LogisticScorer(BaseEstimator):
    """L2-regularised logistic regression on one-hot categories and standardised numbers.

    Linear terms extrapolate: when the latest leads lie outside the training range (a new campaign, a new
    economic climate) this is often the candidate that still ranks them sensibly.
    """

    def __init__(self, C: float = 1.0, min_frequency: int = 20, seed: int = 42) -> None:
        self.C = C
        self.min_frequency = min_frequency
        self.seed = seed

    def _design(self, X: pd.DataFrame) -> Any:
        from scipy import sparse

        blocks = []
        for name in self.feature_names_:
            if name in self.scale_:
                mean, std, median = self.scale_[name]
                values = X[name].to_numpy(dtype="float64")
                missing = np.isnan(values)
                filled = np.where(missing, median, values)
                blocks.append(sparse.csr_matrix(((filled - mean) / std).reshape(-1, 1)))
                if name in self.missing_cols_:
                    blocks.append(sparse.csr_matrix(missing.astype("float64").reshape(-1, 1)))
            else:
                codes, _ = _codes(X, name, None)
                kept = self.levels_[name]
                col = kept[codes]  # -1 where the level was never seen in training: all zeros
                rows = np.nonzero(col >= 0)[0]
                blocks.append(
                    sparse.csr_matrix(
                        (np.ones(rows.size), (rows, col[rows])), shape=(len(X), max(int(kept.max()) + 1, 1))
                    )
                )
        return sparse.hstack(blocks, format="csr")

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> LogisticScorer:
        from sklearn.linear_model import LogisticRegression

        self.feature_names_ = list(X.columns)
        self.scale_: dict[str, tuple[float, float, float]] = {}
        self.missing_cols_: set[str] = set()
        self.levels_: dict[str, np.ndarray] = {}
        for name in self.feature_names_:
            if X[name].dtype.kind == "f":
                values = X[name].to_numpy(dtype="float64")
                finite = values[~np.isnan(values)]
                median = float(np.median(finite)) if finite.size else 0.0
                filled = np.where(np.isnan(values), median, values)
                std = float(filled.std()) or 1.0
                self.scale_[name] = (float(filled.mean()), std, median)
                if finite.size < values.size:
                    self.missing_cols_.add(name)
            else:
                codes, k = _codes(X, name, None)
                counts = np.bincount(codes, minlength=k)
                # Full one-hot (no reference level) with rare levels pooled in one column: under the L2
                # penalty an unseen level then scores near the average lead, not like the most common one.
                frequent = counts >= self.min_frequency
                rare = (counts > 0) & ~frequent
                levels = np.full(k, -1, dtype=np.int64)
                levels[frequent] = np.arange(int(frequent.sum()))
                levels[rare] = int(frequent.sum())
                self.levels_[name] = levels
        design = self._design(X)
        model = LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)
        weight = None if sample_weight is None else np.asarray(sample_weight) * (len(y) / np.sum(sample_weight))
        model.fit(design, np.asarray(y), sample_weight=weight)
        self.coef_ = model.coef_.ravel()
        self.intercept_ = float(model.intercept_[0])
        self.train_means_ = np.zeros(len(self.feature_names_))
        self.train_means_ = self._raw_terms(X).mean(axis=0)
        self.expected_value_ = self.intercept_ + float(self.train_means_.sum())
        return self

    def _raw_terms(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.feature_names_)), dtype="float64")
        pos = 0
        for j, name in enumerate(self.feature_names_):
            if name in self.scale_:
                mean, std, median = self.scale_[name]
                values = X[name].to_numpy(dtype="float64")
                missing = np.isnan(values)
                out[:, j] = (np.where(missing, median, values) - mean) / std * self.coef_[pos]
                pos += 1
                if name in self.missing_cols_:
                    out[:, j] += missing * self.coef_[pos]
                    pos += 1
            else:
                levels = self.levels_[name]
                width = max(int(levels.max()) + 1, 1)
                weights = np.append(self.coef_[pos : pos + width], 0.0)  # index -1 -> never seen: zero
                codes, _ = _codes(X, name, None)
                out[:, j] = weights[levels[codes]] if levels.max() >= 0 else 0.0
                pos += width
        return out

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        return self._raw_terms(X) - self.train_means_

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.expected_value_ + self.contributions(X).sum(axis=1)
