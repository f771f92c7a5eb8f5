"""Choosing a model for a population that has moved: a shift beyond the training range keeps the choice to
candidates that extrapolate; no shift leaves it as validation decided."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.predictive import tournament
from leadscore.predictive.estimators import LogisticScorer
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.shift import detect, extrapolates


def _leads(n: int, seed: int, rate_low: float = 0.0, rate_high: float = 1.0) -> pd.DataFrame:
    """`rate` acts linearly on conversion; `a` and `b` only together (an interaction trees find)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "rate": rng.uniform(rate_low, rate_high, n),
            "a": rng.uniform(0, 1, n),
            "b": rng.uniform(0, 1, n),
        }
    )


def _outcome(X: pd.DataFrame, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logit = -2.0 + 2.0 * X["rate"] + 3.5 * ((X["a"] > 0.5) & (X["b"] > 0.5))
    return (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(int)


def _candidates() -> dict[str, object]:
    return tournament.default_candidates(seed=0, max_rounds=200)


@pytest.mark.slow
def test_population_beyond_the_training_range_makes_the_extrapolating_model_win() -> None:
    X = _leads(3000, 1)
    y = _outcome(X, 2)
    today = _leads(1000, 3, rate_low=1.5, rate_high=2.5)

    plain = tournament.run(X, y, "time", 0, _candidates())
    shifted = tournament.run(X, y, "time", 0, _candidates(), target=today)

    assert plain.chosen != "logistic"  # inside the range the interaction wins
    assert shifted.shift is not None and shifted.shift.detected
    assert shifted.shift.flagged == ["rate"]
    assert shifted.chosen == "logistic"
    assert "logistic" in shifted.shift.describe() and "rate" in shifted.shift.describe()
    assert shifted.calibrator.method == "sigmoid"
    # Among today's leads the chosen model still ranks by `rate`, which the tree cannot do beyond the range.
    y_today = _outcome(today, 4)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y_today, shifted.model.decision_function(today)) > roc_auc_score(
        y_today, plain.model.decision_function(today)
    )


@pytest.mark.slow
def test_no_shift_leaves_the_choice_unchanged() -> None:
    X = _leads(3000, 1)
    y = _outcome(X, 2)
    same = _leads(1000, 5)

    plain = tournament.run(X, y, "time", 0, _candidates())
    checked = tournament.run(X, y, "time", 0, _candidates(), target=same)

    assert checked.shift is not None and not checked.shift.detected
    assert checked.shift.flagged == []
    assert checked.chosen == plain.chosen
    assert checked.calibrator.method == plain.calibrator.method


def test_extrapolation_is_read_from_the_models_own_terms() -> None:
    X = _leads(2000, 1)
    y = _outcome(X, 2)
    linear = LogisticScorer(seed=0).fit(X, y)
    trees = LightGBMScorer(n_estimators=100, seed=0).fit(X, y)
    assert extrapolates(linear, X, ["rate", "a"])
    assert not extrapolates(trees, X, ["rate"])


def test_detect_names_the_features_that_moved() -> None:
    before = _leads(2000, 1)
    after = _leads(1000, 2, rate_low=0.6, rate_high=1.2)
    report = detect(before, after, seed=0)
    assert report.detected
    assert next(iter(report.drivers)) == "rate"
    assert 0.2 < report.outside["rate"] < 0.5  # values above 1.0 are beyond the training range
    assert report.outside["a"] < 0.01  # same distribution: only sampling noise at the edges


def _drifting(n: int, seed: int, start: float, stop: float) -> pd.DataFrame:
    """Rows in time order whose `rate` climbs steadily from `start` to `stop` (an indicator that keeps
    moving), so every later window lies beyond the range of the rows before it."""
    X = _leads(n, seed)
    X["rate"] = np.linspace(start, stop, n) + np.random.default_rng(seed).normal(0, 0.01, n)
    return X


def test_a_validation_window_beyond_the_fit_range_measures_extrapolation_itself() -> None:
    from leadscore.predictive.shift import beyond_range

    X = _drifting(3000, 1, 0.0, 1.0)
    fit, val = X.iloc[:2400], X.iloc[2400:]
    shares = beyond_range(fit, val, ["rate", "a"])
    assert shares["rate"] > 0.95 and shares["a"] < 0.01


@pytest.mark.slow
def test_choice_is_left_to_validation_when_the_window_already_lay_beyond_the_range() -> None:
    X = _drifting(3000, 1, 0.0, 1.0)
    y = _outcome(X, 2)
    today = _drifting(1000, 3, 1.0, 1.3)
    iid = _leads(3000, 1)  # the same leads in random order: the window lies inside the range
    restricted = tournament.run(iid, _outcome(iid, 2), "time", 0, _candidates(), target=_leads(1000, 3, 1.5, 2.5))
    assert restricted.shift is not None and restricted.shift.flagged == ["rate"]
    assert not restricted.shift.seen_by_validation and restricted.chosen == "logistic"

    free = tournament.run(X, y, "time", 0, _candidates(), target=today)
    assert free.shift is not None and free.shift.flagged == ["rate"]
    assert free.shift.seen_by_validation
    assert free.shift.validated["rate"] > 0.95
    assert "the choice is left to it" in free.shift.describe()
    assert free.shift.summary()["choice_left_to_validation"] is True
    best = max((n for n, a in free.validation_auc.items() if a is not None), key=lambda n: free.validation_auc[n] or 0)
    # the choice is the validation's: the best there, or a simpler one within its noise
    names = list(free.validation_auc)
    assert names.index(free.chosen) <= names.index(best)


def test_early_stopping_under_a_time_split_never_looks_at_the_validation_window() -> None:
    X = _leads(3000, 1)
    y = _outcome(X, 2)
    fit, val = X.iloc[:2400], X.iloc[2400:]
    trees = LightGBMScorer(n_estimators=300, early_stopping_rounds=20, seed=0)
    rng = np.random.default_rng(0)
    one = tournament.fit_candidate(trees, fit, y[:2400], val, y[2400:], "time")
    other = tournament.fit_candidate(trees, fit, y[:2400], val, rng.integers(0, 2, 600), "time")
    assert one.best_iteration_ == other.best_iteration_  # the window's outcomes changed nothing
    assert np.allclose(one.decision_function(val), other.decision_function(val))
    stratified = tournament.fit_candidate(trees, fit, y[:2400], val, y[2400:], "stratified")
    assert stratified.best_iteration_ >= 1
