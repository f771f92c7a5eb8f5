"""The base-rate report of a time split: each labelled period's rate against what the model predicts for
the population it will score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.predictive.baserates import PERIODS, base_rates
from leadscore.predictive.estimators import LogisticScorer
from leadscore.predictive.training import train


def test_periods_are_consecutive_slices_of_the_training_outcomes() -> None:
    y = np.r_[np.zeros(90), np.ones(10), np.zeros(80), np.ones(20)]  # 200 rows: 10 per 100, then 20 per 100
    rates = base_rates(y, latest=0.2, predicted=np.full(50, 0.15), actual=np.r_[np.ones(10), np.zeros(40)])
    assert len(rates.periods) == PERIODS and sum(p["rows"] for p in rates.periods) == 200
    assert sum(p["positives"] for p in rates.periods) == 30
    assert rates.predicted == pytest.approx(0.15) and rates.actual == pytest.approx(0.2)
    assert not rates.extrapolated and rates.warning() is None
    assert "mean predicted for the scoring population 15.0% (actual 20.0%)" in rates.describe()


@pytest.mark.parametrize("predicted", [0.8, 0.001])
def test_predictions_far_outside_every_labelled_rate_are_reported(predicted: float) -> None:
    y = np.tile([1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 50)  # 10% in every period
    rates = base_rates(y, latest=0.1, predicted=np.full(20, predicted))
    assert rates.extrapolated
    warning = rates.warning()
    assert warning is not None and "outside every labelled period" in warning and "10.0% to 10.0%" in warning
    assert rates.summary()["extrapolated"] is True


def _drifting(n: int = 4000, seed: int = 3) -> pd.DataFrame:
    """A feature that keeps rising with time and drives conversion: the test period lies beyond its
    training range, and a linear model carries its rate far beyond any labelled period's."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    rate_index = 6.0 * t / n + rng.normal(0, 0.5, n)
    logit = -4.0 + 0.9 * rate_index
    won = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"day": t, "index": rate_index, "noise": rng.normal(0, 1, n), "won": won})


@pytest.mark.slow
def test_time_split_reports_base_rates_and_warns_when_predictions_extrapolate() -> None:
    frame = _drifting()
    result = train(frame, "won", time="day", split="time", candidates={"logistic": LogisticScorer(seed=1)}, seed=1)
    rates = result.base_rates
    assert rates is not None
    train_rows = result.parts[0]["rows"] + result.parts[1]["rows"]
    assert sum(p["rows"] for p in rates.periods) == train_rows
    assert [p["rate"] for p in rates.periods] == sorted(p["rate"] for p in rates.periods)  # rising
    assert rates.predicted == pytest.approx(float(result.heldout_p.mean()))
    assert rates.actual == pytest.approx(result.metrics.base_rate)
    assert rates.latest == pytest.approx(result.parts[1]["positives"] / result.parts[1]["rows"])
    assert rates.extrapolated and any("outside every labelled period" in w for w in result.warnings)
    assert result.report()["base_rates"]["predicted_scoring"] == pytest.approx(rates.predicted)
    assert result.artifact.metadata["base_rates"]["training_periods"] == rates.periods


@pytest.mark.slow
def test_stratified_training_has_no_base_rate_periods(leads: pd.DataFrame) -> None:
    result = train(leads, "converted", candidates={"logistic": LogisticScorer(seed=1)}, seed=1)
    assert result.base_rates is None and result.report()["base_rates"] is None
