"""The fourth candidate: an equal-weight average of the other candidates on a common scale.

Averaging models that fail in different ways is the cheapest protection against drift; each member's
log-odds are standardised on the training rows so that no member dominates by its scale alone, and the
average of additive explanations stays additive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, clone

if TYPE_CHECKING:
    import pandas as pd


class BlendScorer(BaseEstimator):
    def __init__(self, members: list[Any] | None = None) -> None:
        self.members = members

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None = None,
        y_val: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> BlendScorer:
        if not self.members:
            raise ValueError("a blend needs at least one member")
        return self._compose([clone(m).fit(X, y, X_val, y_val, sample_weight) for m in self.members], X)

    @classmethod
    def from_fitted(cls, fitted: list[Any], X: pd.DataFrame) -> BlendScorer:
        """A blend of members already fitted on `X`, so the tournament does not fit them twice."""
        return cls(members=[clone(m) for m in fitted])._compose(fitted, X)

    def _compose(self, fitted: list[Any], X: pd.DataFrame) -> BlendScorer:
        self.feature_names_ = list(X.columns)
        self.members_ = fitted
        self.centres_: list[float] = []
        self.scales_: list[float] = []
        for member in self.members_:
            scores = member.decision_function(X)
            self.centres_.append(float(scores.mean()))
            self.scales_.append(float(scores.std()) or 1.0)
        self.expected_value_ = float(
            np.mean(
                [
                    (m.expected_value_ - c) / s
                    for m, c, s in zip(self.members_, self.centres_, self.scales_, strict=True)
                ]
            )
        )
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        parts = [
            (m.decision_function(X) - c) / s for m, c, s in zip(self.members_, self.centres_, self.scales_, strict=True)
        ]
        return np.mean(parts, axis=0)

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        parts = [m.contributions(X) / s for m, s in zip(self.members_, self.scales_, strict=True)]
        return np.mean(parts, axis=0)
