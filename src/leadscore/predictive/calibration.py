"""Turning log-odds into probabilities a salesperson can take at face value."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator

Method = Literal["isotonic", "sigmoid"]


class Calibrator(BaseEstimator):
    """Isotonic (flexible, needs data) or sigmoid (Platt: two parameters, robust on small sets)."""

    def __init__(self, method: Method = "sigmoid") -> None:
        self.method = method

    def fit(self, scores: np.ndarray, y: np.ndarray) -> Calibrator:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.linear_model import LogisticRegression

        scores = np.asarray(scores, dtype="float64").reshape(-1)
        y = np.asarray(y)
        if self.method == "isotonic":
            self.model_ = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(scores, y)
        else:
            self.model_ = LogisticRegression(C=1e6, max_iter=1000).fit(scores.reshape(-1, 1), y)
            if float(self.model_.coef_[0, 0]) <= 0:
                # The validation rows did not rank by these scores (a window of another regime): a falling
                # curve would turn the ranking upside down, and they say nothing about how steep the curve
                # is. Keep the ranking with a barely rising curve at the validation rows' base rate.
                slope = 1e-3 / (float(scores.std()) or 1.0)
                self.model_.coef_[0, 0] = slope
                self.model_.intercept_[0] = _offset(scores * slope, y)
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        from scipy.special import expit, logit

        scores = np.asarray(scores, dtype="float64").reshape(-1)
        # a base-rate shift fitted later on recent outcomes (see `shifted`); absent from older artifacts
        offset = float(getattr(self, "offset_", 0.0))
        if self.method == "isotonic":
            p = np.asarray(self.model_.predict(scores))
            return p if offset == 0.0 else np.asarray(expit(logit(np.clip(p, 1e-6, 1 - 1e-6)) + offset))
        # what LogisticRegression.predict_proba computes for one feature, without its input checks
        # (most of its cost when the runtime predicts a handful of rows at a time)
        return np.asarray(expit(scores * float(self.model_.coef_[0, 0]) + float(self.model_.intercept_[0]) + offset))

    def shifted(self, scores: np.ndarray, y: np.ndarray) -> Calibrator:
        """A copy of this curve moved up or down on the log-odds scale so that its mean probability on
        `scores` matches the outcomes `y`: the base rate follows recent leads, the curve's shape (and so
        the ranking, and how much a score difference counts) stays as validated."""
        import copy

        from scipy.special import logit

        current = np.clip(self.predict(scores), 1e-6, 1 - 1e-6)
        out = copy.deepcopy(self)
        out.offset_ = float(getattr(self, "offset_", 0.0)) + _offset(logit(current), np.asarray(y))
        return out


def _offset(scores: np.ndarray, y: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar
    from scipy.special import expit

    def loss(b: float) -> float:
        p = np.clip(expit(scores + b), 1e-9, 1 - 1e-9)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    return float(minimize_scalar(loss, bounds=(-50.0, 50.0), method="bounded").x)


def choose_calibrator(
    scores: np.ndarray, y: np.ndarray, seed: int = 42, shifted: bool = False
) -> tuple[Calibrator, dict[str, float]]:
    """Pick the method with the lower log loss in a 2-fold cross-fit on the validation scores, then fit it
    on all of them. Isotonic wins only when there is enough data for its steps not to be noise.

    `shifted`: the population to be scored differs from the validation rows. Isotonic steps were cut for
    the validation scores and are flat beyond and between them: shifted leads can land in one step and
    lose the ranking the model was chosen for. Sigmoid keeps rising, so it is used then."""
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    scores = np.asarray(scores, dtype="float64")
    y = np.asarray(y)
    losses: dict[str, float] = {}
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    for method in ("sigmoid", "isotonic"):
        total = 0.0
        for a, b in folds.split(scores.reshape(-1, 1), y):
            cal = Calibrator(method).fit(scores[a], y[a])
            total += log_loss(y[b], np.clip(cal.predict(scores[b]), 1e-6, 1 - 1e-6), labels=[0, 1]) * len(b)
        losses[method] = total / len(y)
    best: Method = "isotonic" if losses["isotonic"] < losses["sigmoid"] else "sigmoid"
    if shifted:
        best = "sigmoid"
    return Calibrator(best).fit(scores, y), losses


ALIGN_STANDARD_ERRORS = 2.0


def align_to_refit(
    calibrator: Calibrator, refit_scores: np.ndarray, y: np.ndarray
) -> tuple[Calibrator, dict[str, Any]]:
    """The calibration curve moved so that the model it ships with reproduces the rate of the rows it
    was fitted on.

    Under a time split the curve is fitted on the validation window with the scores of a model that
    never saw the window, and the artifact then carries the model refitted on every training row, the
    window included. When the window's rate differs from the earlier rows' (a campaign, a season), the
    refitted model has learnt that rate in its features, and the curve adds the same rise again: on the
    bank data by time the refitted scorecard's log-odds on the window average 0.7 higher and its first
    leads to score are predicted at 21% where 6% convert, which also sinks the pooled ranking of a
    period recalibrated part by part (those first leads are set above later, recalibrated ones). The
    offset (one number on the log-odds scale) brings the curve's mean over the refitted model's window
    scores back to the window's rate; the curve's shape, fitted on honest scores, stays.

    Applied only when the offset is beyond the noise of the window's rate (`ALIGN_STANDARD_ERRORS`
    standard errors of the mean log-odds, 1 / sqrt(sum p (1 - p))): when the rate holds still, the
    refitted model's scores match the curve already and it is left as fitted."""
    from scipy.special import logit

    refit_scores = np.asarray(refit_scores, dtype="float64")
    y = np.asarray(y).astype(int)
    before = np.clip(calibrator.predict(refit_scores), 1e-6, 1 - 1e-6)
    offset = _offset(logit(before), y)
    moved = calibrator.shifted(refit_scores, y)
    after = moved.predict(refit_scores)
    # the Fisher information of one log-odds offset; none when every probability is 0 or 1 (nothing to tell)
    information = float(np.sum(after * (1 - after)))
    se = float(1.0 / np.sqrt(information)) if information > 1e-9 else 1e9
    applied = bool(abs(offset) > ALIGN_STANDARD_ERRORS * se)
    summary: dict[str, Any] = {
        "applied": applied,
        "offset": offset,
        "standard_error": se,
        "rows": len(y),
        "window_rate": float(y.mean()),
        "mean_predicted_before": float(before.mean()),
        "why": (
            f"the model refitted with the validation window scores it at a mean of {before.mean():.1%} through "
            f"the curve where {y.mean():.1%} converted: "
            + (
                f"curve moved by {offset:+.2f} log-odds (one standard error {se:.2f}) so that the window's rate is "
                "not counted twice"
                if applied
                else f"offset {offset:+.2f} log-odds within {ALIGN_STANDARD_ERRORS:g} standard errors "
                f"({se:.2f}): curve kept as fitted"
            )
        ),
    }
    return (moved if applied else calibrator), summary
