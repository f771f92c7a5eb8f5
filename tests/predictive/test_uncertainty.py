"""Confidence intervals, fold spread and the simpler-model rule (uncertainty.py, tournament.prefer_simpler)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.metrics import compute_metrics
from leadscore.predictive.tournament import prefer_simpler
from leadscore.predictive.training import train
from leadscore.predictive.uncertainty import bootstrap_intervals, paired_difference
from tests.predictive.conftest import make_leads


@settings(max_examples=15, deadline=None)
@given(n=st.integers(60, 3000), seed=st.integers(0, 10_000))
def test_every_interval_holds_its_point_estimate(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=n)
    y = (rng.random(n) < p).astype(int)
    if y.min() == y.max():
        return
    m = compute_metrics(y, p)
    ci = bootstrap_intervals(y, p, n_boot=60, seed=seed)
    for key in ("roc_auc", "pr_auc", "log_loss", "brier", "ece"):
        lo, hi = ci[key]
        value = getattr(m, key)
        assert lo <= value + 1e-9 and value <= hi + 1e-9, (key, lo, value, hi)


def test_intervals_narrow_with_more_rows() -> None:
    rng = np.random.default_rng(1)

    def width(n: int) -> float:
        p = rng.uniform(size=n)
        y = (rng.random(n) < p).astype(int)
        lo, hi = bootstrap_intervals(y, p, n_boot=100)["roc_auc"]
        return hi - lo

    assert width(20_000) < width(500) / 3


def test_a_simpler_candidate_within_the_noise_is_preferred_and_the_choice_says_so() -> None:
    rng = np.random.default_rng(2)
    n = 3000
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-signal))).astype(int)
    simple = signal + rng.normal(scale=0.5, size=n)
    trees = simple + rng.normal(scale=0.05, size=n)  # the same ranking, a hair apart
    aucs = {"logistic": 0.0, "lightgbm": 0.0}
    from sklearn.metrics import roc_auc_score

    aucs = {"logistic": float(roc_auc_score(y, simple)), "lightgbm": float(roc_auc_score(y, trees))}
    if aucs["lightgbm"] < aucs["logistic"]:
        trees, simple = simple, trees
        aucs = {"logistic": aucs["lightgbm"], "lightgbm": aucs["logistic"]}
    chosen, why = prefer_simpler(["logistic", "lightgbm"], aucs, {"logistic": simple, "lightgbm": trees}, y, 0)  # type: ignore[arg-type]
    assert chosen == "logistic"
    assert "within the noise" in why and "lightgbm" in why
    much_better = signal  # the true signal: clearly ahead of the noisy copy
    aucs["lightgbm"] = float(roc_auc_score(y, much_better))
    chosen, why = prefer_simpler(["logistic", "lightgbm"], aucs, {"logistic": simple, "lightgbm": much_better}, y, 0)  # type: ignore[arg-type]
    assert chosen == "lightgbm" and "best validation AUC" in why
    diff = paired_difference(y, much_better, simple, n_boot=100)
    assert diff.mean > diff.se > 0


def test_training_reports_intervals_fold_spread_and_why_the_model_was_chosen() -> None:
    fast = {
        "naive_bayes": NaiveBayesScorer(),
        "logistic": LogisticScorer(),
        "lightgbm": LightGBMScorer(n_estimators=40),
    }
    result = train(make_leads(), "converted", split="stratified", candidates=fast)
    lo, hi = result.intervals["roc_auc"]
    assert result.metrics.roc_auc is not None and lo < result.metrics.roc_auc < hi
    assert result.folds is not None and len(result.folds.values) == 5 and result.folds.std > 0
    report = result.report()
    assert report["folds"]["std"] > 0 and report["confidence_intervals"]["roc_auc"] == [lo, hi]
    assert sum(n.startswith("fold ") and "chose " in n for n in result.notes) == 5
    assert report["parts"][0]["rows"] == 1500
