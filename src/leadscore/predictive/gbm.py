"""LightGBM candidate with native categorical features, regularised for data that drifts over time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator

if TYPE_CHECKING:
    import pandas as pd


class LightGBMScorer(BaseEstimator):
    """Gradient-boosted trees. Small leaves and large minimum leaf sizes: lead data is noisy and the
    conversion rate moves with campaigns, so deep trees learn the past rather than the lead."""

    def __init__(
        self,
        n_estimators: int = 2000,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_data_in_leaf: int = 50,
        lambda_l2: float = 5.0,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 0.8,
        early_stopping_rounds: int = 100,
        seed: int = 42,
        num_threads: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.lambda_l2 = lambda_l2
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.num_threads = num_threads

    def _params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "lambda_l2": self.lambda_l2,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "cat_smooth": 20.0,
            "min_data_per_group": 50,
            "max_cat_threshold": 32,
            "seed": self.seed,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": self.num_threads,
            "verbose": -1,
        }

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> LightGBMScorer:
        import lightgbm as lgb

        self.feature_names_ = list(X.columns)
        weight = None if sample_weight is None else np.asarray(sample_weight) * (len(y) / np.sum(sample_weight))
        train = lgb.Dataset(X, label=np.asarray(y), weight=weight, free_raw_data=True)
        callbacks: list[Any] = []
        valid_sets: list[Any] = []
        if X_val is not None and y_val is not None and self.early_stopping_rounds > 0:
            valid_sets = [lgb.Dataset(X_val, label=np.asarray(y_val), reference=train)]
            callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        params = {**self._params(), "metric": "auc"}
        if self.num_threads <= 0 and len(X) < 100_000:
            # Below this size thread start-up and contention cost more than they save.
            params["num_threads"] = 1
        self.booster_ = lgb.train(
            params, train, num_boost_round=self.n_estimators, valid_sets=valid_sets, callbacks=callbacks
        )
        best = self.booster_.best_iteration
        self.best_iteration_ = int(best) if best and best > 0 else self.booster_.current_iteration()
        contrib = self.booster_.predict(X.head(1), num_iteration=self.best_iteration_, pred_contrib=True)
        self.expected_value_ = float(np.asarray(contrib)[0, -1])
        return self

    def _predict(self, X: pd.DataFrame, **kind: bool) -> np.ndarray:
        # threads only pay off for large batches; for one lead their start-up dominates
        options: dict[str, Any] = {**kind, **({"num_threads": 1} if len(X) < 2000 else {})}
        return np.asarray(self.booster_.predict(_matrix(X), num_iteration=self.best_iteration_, **options))

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self._predict(X, raw_score=True)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        return self._predict(X, pred_contrib=True)[:, :-1]


def _matrix(X: pd.DataFrame) -> np.ndarray:
    """What LightGBM makes of a frame with categoricals (category codes, missing as NaN), built directly:
    its own pandas conversion costs more than the prediction for small batches. Valid because every
    frame comes from the same FeatureSchema, so categories and their order equal the training ones."""
    out = np.empty((len(X), X.shape[1]), dtype="float64")
    for j, (_, col) in enumerate(X.items()):
        if col.dtype.kind == "f":
            out[:, j] = col.to_numpy()
        else:
            codes = col.cat.codes.to_numpy().astype("float64")
            codes[codes < 0] = np.nan
            out[:, j] = codes
    return out
