"""Out-of-fold target encoding for high-cardinality categories, as a wrapper around any candidate.

A column with hundreds of values (a city, a campaign, a referrer) either loses its rare values to the
"(other)" bucket or keeps them all. Kept one by one, most values have a handful of rows: a candidate
that learns a weight per value learns their noise. Target encoding replaces each value by its smoothed
conversion log-odds (shrunk towards the overall rate by `smoothing` pseudo-rows), one number per row.

The trap is leakage: a row's own outcome is part of its value's rate, so a value seen once encodes its
own label and the model learns to trust the encoding far more than it deserves. During training each
row is therefore encoded with rates computed on the other folds only (out-of-fold); at scoring time,
leads were never part of training, so the rates from every training row are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, clone

if TYPE_CHECKING:
    import pandas as pd

FOLDS = 5
SMOOTHING = 20.0


def _codes(X: Any, name: str) -> tuple[np.ndarray, int]:
    """Category codes (-1 missing or unknown) and the number of categories, of a pandas or runtime frame."""
    column = X[name]
    codes = np.asarray(column.cat.codes.to_numpy(), dtype=np.int64)
    return codes, len(column.cat.categories)


def _rates(codes: np.ndarray, y: np.ndarray, k: int, prior: float, smoothing: float) -> np.ndarray:
    """Smoothed log-odds of each category against the prior; the last slot (missing, unknown) is 0."""
    seen = codes >= 0
    positives = np.bincount(codes[seen], weights=y[seen], minlength=k)
    counts = np.bincount(codes[seen], minlength=k).astype("float64")
    rate = (positives + smoothing * prior) / (counts + smoothing)
    rate = np.clip(rate, 1e-6, 1 - 1e-6)
    out = np.log(rate / (1 - rate)) - np.log(prior / (1 - prior))
    return np.append(out, 0.0)


def _as_pandas(X: Any) -> pd.DataFrame:
    """The runtime's light column store as a pandas frame (same columns, codes and categories)."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        return X
    out: dict[str, Any] = {}
    for name in X.columns:
        column = X[name]
        if getattr(column, "categories", None) is None:
            out[name] = np.asarray(column.to_numpy(), dtype="float64")
        else:
            codes = np.asarray(column.cat.codes.to_numpy(), dtype=np.int64)
            out[name] = pd.Categorical.from_codes(codes, categories=pd.Index(list(column.categories)))
    return pd.DataFrame(out)


class TargetEncodedScorer(BaseEstimator):
    """`base` fitted on a frame whose `columns` (categoricals) are replaced by their conversion log-odds:
    out-of-fold for the training rows, from all training rows for anything scored later. One additive
    term per input column, as every candidate: the encoded column's term explains the category."""

    def __init__(
        self,
        base: Any = None,
        columns: tuple[str, ...] = (),
        folds: int = FOLDS,
        smoothing: float = SMOOTHING,
        seed: int = 42,
    ) -> None:
        self.base = base
        self.columns = columns
        self.folds = folds
        self.smoothing = smoothing
        self.seed = seed

    def out_of_fold(self, X: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
        """The training frame as the candidate learns from it: each row's encoding from the other folds."""
        from sklearn.model_selection import KFold

        y = np.asarray(y, dtype="float64")
        out = X.copy()
        folds = KFold(n_splits=min(self.folds, len(y)), shuffle=True, random_state=self.seed)
        for name in self.columns:
            codes, k = _codes(X, name)
            values = np.zeros(len(y))
            for fit, held in folds.split(values):
                prior = float(np.clip(y[fit].mean(), 1e-6, 1 - 1e-6))
                values[held] = _rates(codes[fit], y[fit], k, prior, self.smoothing)[codes[held]]
            out[name] = values
        return out

    def encode(self, X: Any) -> pd.DataFrame:
        """Any frame to score, encoded with the rates of every training row."""
        out = _as_pandas(X).copy()
        for name in self.columns:
            codes, _ = _codes(out, name)
            out[name] = self.encodings_[name][codes]  # code -1 (missing, unknown) picks the trailing 0
        return out

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> TargetEncodedScorer:
        if self.base is None:
            raise ValueError("target encoding needs a candidate to wrap")
        self.feature_names_ = list(X.columns)
        y_arr = np.asarray(y, dtype="float64")
        prior = float(np.clip(y_arr.mean(), 1e-6, 1 - 1e-6))
        self.encodings_ = {}
        for name in self.columns:
            codes, k = _codes(X, name)
            self.encodings_[name] = _rates(codes, y_arr, k, prior, self.smoothing)
        encoded_val = self.encode(X_val) if X_val is not None else None
        self.base_ = clone(self.base).fit(self.out_of_fold(X, y), y, encoded_val, y_val, sample_weight)
        self.expected_value_ = float(self.base_.expected_value_)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        return np.asarray(self.base_.decision_function(self.encode(X)))

    def contributions(self, X: Any) -> np.ndarray:
        return np.asarray(self.base_.contributions(self.encode(X)))
