"""The scorecard candidate: binned numbers (heavy values in a bin of their own) weighed jointly."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.scorecard import ScorecardScorer, bin_edges


def test_a_heavy_value_gets_a_bin_of_its_own() -> None:
    values = np.r_[np.full(700, -1.0), np.arange(300, dtype="float64")]
    edges = bin_edges(values)
    codes = np.searchsorted(edges, values, side="right")
    assert len(set(codes[:700])) == 1  # every -1 in one bin
    assert codes[0] not in set(codes[700:])  # and no other value with them
    assert len(set(codes[700:])) == 10  # the rest in deciles


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan")), st.just(0.0)), min_size=1, max_size=60))
def test_edges_are_sorted_and_every_value_lands_in_a_bin(values: list[float]) -> None:
    arr = np.asarray(values, dtype="float64")
    edges = bin_edges(arr)
    assert np.all(np.diff(edges) > 0)
    assert np.all(np.isfinite(edges))


def _leads(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Previous contacts: mostly none (-1), otherwise days since; recent contact converts, no contact
    rarely; three copies of one indicator (naive Bayes counts it three times)."""
    rng = np.random.default_rng(seed)
    days = np.where(rng.random(n) < 0.8, -1.0, rng.uniform(0, 400, n))
    indicator = rng.normal(size=n)
    logit = -2.0 + np.where(days < 0, 0.0, 2.5 - days / 100) + 0.6 * indicator
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame(
        {
            "days": days,
            "rate_a": indicator,
            "rate_b": indicator + rng.normal(0, 0.05, n),
            "rate_c": indicator + rng.normal(0, 0.05, n),
            "channel": pd.Categorical(rng.choice(["mail", "phone"], n)),
        }
    )
    return X, y


def test_scorecard_scores_are_additive_and_beat_its_halves_where_each_is_wrong() -> None:
    X, y = _leads(6000, 0)
    X_new, y_new = _leads(4000, 1)
    card = ScorecardScorer(seed=0).fit(X, y)
    contributions = card.contributions(X_new)
    assert contributions.shape == (len(X_new), X.shape[1])
    assert np.allclose(card.expected_value_ + contributions.sum(axis=1), card.decision_function(X_new))
    auc = {
        "scorecard": roc_auc_score(y_new, card.decision_function(X_new)),
        "logistic": roc_auc_score(y_new, LogisticScorer(seed=0).fit(X, y).decision_function(X_new)),
        "naive_bayes": roc_auc_score(y_new, NaiveBayesScorer().fit(X, y).decision_function(X_new)),
    }
    # a straight line through -1 and the days since cannot fit the spike; counting the indicator three
    # times over-weighs it
    assert auc["scorecard"] > auc["logistic"] + 0.01, auc
    assert auc["scorecard"] > auc["naive_bayes"] + 0.005, auc


def test_values_beyond_the_range_fall_in_the_edge_bin_and_missing_scores() -> None:
    X, y = _leads(3000, 2)
    card = ScorecardScorer(seed=0).fit(X, y)
    far = X.head(3).assign(days=[1e9, -1e9, np.nan])
    edge = X.head(3).assign(days=[X["days"].max(), X["days"].min(), np.nan])
    assert np.allclose(card.decision_function(far), card.decision_function(edge))
    assert np.isfinite(card.decision_function(far)).all()


def test_table_lookups_score_exactly_as_the_logistic_regression_on_the_bins() -> None:
    from leadscore.predictive.scorecard import _binned

    X, y = _leads(4000, 3)
    X.loc[::7, "rate_a"] = np.nan
    card = ScorecardScorer(seed=0).fit(X, y)
    new, _ = _leads(500, 4)
    new.loc[:20, "days"] = 1e9
    new["channel"] = pd.Categorical([None, None, *["mail"] * 498], categories=["mail", "phone"])  # the schema's
    binned = _binned(new, card.edges_, card.ranges_)
    assert np.allclose(card.decision_function(new), card.logistic_.decision_function(binned))
    assert np.allclose(card.contributions(new), card.logistic_.contributions(binned))


def test_the_runtime_column_store_scores_a_scorecard_as_batch_scoring_does() -> None:
    from leadscore.predictive import train
    from leadscore.predictive.runtime import ArtifactPredictor
    from leadscore.predictive.scoring import probabilities
    from tests.predictive.conftest import make_leads

    leads = make_leads().drop(columns=["signup_date", "email"])
    result = train(leads, "converted", split="time", candidates={"scorecard": ScorecardScorer()}, compare_all=False)
    predictor = ArtifactPredictor(result.artifact)
    rows = leads.drop(columns=["converted"]).head(50).to_dict("records")
    found = predictor.predict_many([(row, None, 0) for row in rows], top=2)  # type: ignore[misc]
    assert np.allclose([f.probability for f in found], probabilities(result.artifact, leads.head(50)))
