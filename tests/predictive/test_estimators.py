from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.predictive.blend import BlendScorer
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.features import infer_schema
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.metrics import auc_or_none
from leadscore.predictive.table import parse_label


def _data(leads: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    raw = leads.drop(columns=["converted"])
    return infer_schema(raw).transform(raw), parse_label(leads["converted"], "converted").to_numpy()


@pytest.mark.parametrize(
    "make",
    [
        lambda: NaiveBayesScorer(),
        lambda: LogisticScorer(),
        lambda: LightGBMScorer(n_estimators=40),
        lambda: BlendScorer([NaiveBayesScorer(), LogisticScorer(), LightGBMScorer(n_estimators=40)]),
    ],
    ids=["naive_bayes", "logistic", "lightgbm", "blend"],
)
def test_contributions_add_up_to_the_score_and_the_model_ranks(leads: pd.DataFrame, make: object) -> None:
    X, y = _data(leads)
    model = make().fit(X.iloc[:1000], y[:1000])  # type: ignore[operator]
    scores = model.decision_function(X.iloc[1000:])
    contrib = model.contributions(X.iloc[1000:])
    assert contrib.shape == (500, X.shape[1])
    np.testing.assert_allclose(model.expected_value_ + contrib.sum(axis=1), scores, atol=1e-6)
    auc = auc_or_none(y[1000:], scores)
    assert auc is not None and auc > 0.65


def test_lightgbm_early_stopping_keeps_best_round(leads: pd.DataFrame) -> None:
    X, y = _data(leads)
    model = LightGBMScorer(n_estimators=500, early_stopping_rounds=20).fit(X[:1000], y[:1000], X[1000:], y[1000:])
    assert 1 <= model.best_iteration_ < 500


def test_same_seed_same_scores(leads: pd.DataFrame) -> None:
    X, y = _data(leads)
    a = LightGBMScorer(n_estimators=30, seed=7).fit(X, y).decision_function(X)
    b = LightGBMScorer(n_estimators=30, seed=7).fit(X, y).decision_function(X)
    np.testing.assert_array_equal(a, b)
