from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss

from leadscore.predictive.calibration import Calibrator, align_to_refit, choose_calibrator


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


def _window(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Honest scores of a validation window (log-odds of the truth plus noise) and their outcomes."""
    rng = np.random.default_rng(seed)
    s = rng.normal(-1.5, 1.2, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-s))).astype(int)
    return s + rng.normal(0, 0.3, n), y


def test_the_curve_is_moved_when_the_refitted_model_has_learnt_the_window_rate() -> None:
    s, y = _window(4000, 1)
    curve = Calibrator("sigmoid").fit(s, y)
    refit = s + 0.8  # the model refitted with the window scores it 0.8 log-odds higher: the rise counted twice
    aligned, summary = align_to_refit(curve, refit, y)
    assert summary["applied"] and summary["offset"] < -0.5 and abs(summary["offset"]) > 2 * summary["standard_error"]
    assert abs(aligned.predict(refit).mean() - y.mean()) < 0.005
    assert curve.predict(refit).mean() > y.mean() + 0.05
    # later leads of the same regime, scored by the refitted model: the aligned curve is the honest one
    later, y_later = _window(4000, 2)
    assert log_loss(y_later, aligned.predict(later + 0.8)) < log_loss(y_later, curve.predict(later + 0.8)) - 0.01
    assert "counted twice" in summary["why"]


def test_the_curve_is_kept_when_the_refitted_model_agrees_with_it() -> None:
    s, y = _window(4000, 3)
    curve = Calibrator("sigmoid").fit(s, y)
    refit = s + np.random.default_rng(4).normal(0, 0.05, len(s))  # more rows, the same model: no rise learnt
    kept, summary = align_to_refit(curve, refit, y)
    assert not summary["applied"] and kept is curve
    assert "kept as fitted" in summary["why"]


@settings(max_examples=30, deadline=None)
@given(rise=st.floats(-2.0, 2.0), seed=st.integers(0, 10_000), method=st.sampled_from(["sigmoid", "isotonic"]))
def test_alignment_keeps_the_ranking_and_when_applied_matches_the_window_rate(
    rise: float, seed: int, method: str
) -> None:
    s, y = _window(1500, seed)
    curve = Calibrator(method).fit(s, y)  # type: ignore[arg-type]
    refit = s + rise
    aligned, summary = align_to_refit(curve, refit, y)
    order = np.argsort(refit)
    assert np.all(np.diff(aligned.predict(refit[order])) >= -1e-12)
    if summary["applied"]:
        assert abs(aligned.predict(refit).mean() - y.mean()) < 0.01
    else:
        assert aligned is curve and abs(summary["offset"]) <= 2 * summary["standard_error"]
