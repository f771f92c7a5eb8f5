"""`refit` retrains the recipe that was evaluated on every row; it does not hold a new tournament whose
choice the reported figures never measured."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from leadscore.predictive.estimators import NaiveBayesScorer
from leadscore.predictive.training import train


class _OneColumn(NaiveBayesScorer):
    """Naive Bayes that listens to one column only (the others weigh nothing)."""

    def __init__(self, column: str = "x1", smoothing: float = 0.1) -> None:
        super().__init__(smoothing=smoothing)
        self.column = column

    def fit(self, X: pd.DataFrame, y: np.ndarray, *args: Any, **kwargs: Any) -> _OneColumn:
        super().fit(X, y, *args, **kwargs)
        for name in self.feature_names_:
            if name != self.column:
                self.weights_[name] = np.zeros_like(self.weights_[name])
                self.means_[name] = 0.0
        self.expected_value_ = self.prior_ + self.means_[self.column]
        return self


def _two_regimes(n: int = 5000, seed: int = 0) -> pd.DataFrame:
    """x1 drives conversion in the first 80% of the rows only; x2 everywhere except the 64-80% stretch.
    Evaluated (fit on 0-64%, judged on 64-80%) x1's candidate wins; a new tournament on every row (judged
    on 80-100%) would pick x2's."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x1, x2 = rng.normal(0, 1, n), rng.normal(0, 1, n)
    on1 = t < 0.8 * n
    on2 = (t < 0.64 * n) | (t >= 0.8 * n)
    logit = -1.0 + 2.0 * x1 * on1 + 2.0 * x2 * on2
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"t": t, "x1": x1, "x2": x2, "won": np.where(won, "yes", "no")})


@pytest.mark.slow
def test_refit_trains_the_evaluated_candidate_again() -> None:
    frame = _two_regimes()
    candidates = {"one": _OneColumn("x1"), "two": _OneColumn("x2")}
    evaluated = train(frame, "won", time="t", split="time", candidates=candidates, seed=3)
    assert evaluated.chosen == "one"
    refitted = train(frame, "won", time="t", split="time", candidates=candidates, seed=3, refit=True)
    assert refitted.chosen == "one"
    assert refitted.artifact.metadata["chosen_model"] == "one"
    assert refitted.metrics.roc_auc == evaluated.metrics.roc_auc  # the figures are the recipe's
    assert any("(kept one, the candidate evaluated" in n for n in refitted.notes)
    # the artifact listens to x1, as the evaluated model did
    weights = refitted.artifact.model.weights_
    assert np.abs(weights["x1"]).sum() > 0 and np.abs(weights["x2"]).sum() == 0
