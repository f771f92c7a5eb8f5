from __future__ import annotations

import numpy as np
from sklearn.metrics import log_loss

from leadscore.predictive.calibration import Calibrator, choose_calibrator


def test_calibration_fixes_a_shifted_score() -> None:
    rng = np.random.default_rng(3)
    true_logit = rng.normal(-2, 1.5, 20_000)
    y = (rng.random(20_000) < 1 / (1 + np.exp(-true_logit))).astype(int)
    scores = 2.0 * true_logit + 3.0  # right order, wrong scale and offset
    raw = 1 / (1 + np.exp(-scores))
    cal, losses = choose_calibrator(scores[:10_000], y[:10_000])
    calibrated = cal.predict(scores[10_000:])
    assert log_loss(y[10_000:], calibrated) < log_loss(y[10_000:], raw[10_000:]) - 0.05
    assert set(losses) == {"sigmoid", "isotonic"}
    assert abs(calibrated.mean() - y[10_000:].mean()) < 0.01


def test_isotonic_is_monotone() -> None:
    rng = np.random.default_rng(4)
    s = rng.normal(size=2000)
    y = (rng.random(2000) < 1 / (1 + np.exp(-s))).astype(int)
    out = Calibrator("isotonic").fit(s, y).predict(np.sort(s))
    assert np.all(np.diff(out) >= 0)


def test_sigmoid_never_turns_the_ranking_upside_down() -> None:
    """Validation rows from another regime may rank backwards; the probabilities must still rise with
    the score, at about the validation base rate."""
    import numpy as np

    from leadscore.predictive.calibration import Calibrator

    rng = np.random.default_rng(0)
    scores = rng.normal(size=2000)
    y = (rng.random(2000) < 1 / (1 + np.exp(2.0 + scores))).astype(int)  # higher score, fewer conversions
    cal = Calibrator("sigmoid").fit(scores, y)
    probs = cal.predict(np.sort(scores))
    assert np.all(np.diff(probs) >= 0) and probs[-1] > probs[0]
    assert abs(float(probs.mean()) - float(y.mean())) < 0.02


def test_the_logistic_curve_is_what_scikit_learn_computes() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=500)
    y = (rng.random(500) < 1 / (1 + np.exp(-2 * scores))).astype(int)
    cal = Calibrator("sigmoid").fit(scores, y)
    grid = np.linspace(-6, 6, 101)
    expected = cal.model_.predict_proba(grid.reshape(-1, 1))[:, 1]
    assert np.allclose(cal.predict(grid), expected, rtol=1e-12, atol=0)
