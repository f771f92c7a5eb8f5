"""The model tournament inside one training part: fit every candidate on the earlier (or a stratified)
part, judge them on the validation part, keep the best, refit it on the whole training part and calibrate
it on validation scores it never trained on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone

from leadscore.predictive.blend import BlendScorer
from leadscore.predictive.calibration import Calibrator, choose_calibrator
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.metrics import auc_or_none
from leadscore.predictive.shift import ShiftReport, detect, extrapolates
from leadscore.predictive.splits import inner_split

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

BLEND = "blend"


def default_candidates(seed: int = 42, max_rounds: int = 2000) -> dict[str, Any]:
    """The three base candidates; the blend of all three is added by the tournament."""
    return {
        "naive_bayes": NaiveBayesScorer(smoothing=0.1),
        "logistic": LogisticScorer(C=1.0, seed=seed),
        "lightgbm": LightGBMScorer(n_estimators=max_rounds, seed=seed),
    }


def refit_template(fitted: Any) -> Any:
    """An unfitted copy that repeats what validation decided (e.g. the number of boosting rounds)."""
    if isinstance(fitted, LightGBMScorer):
        return clone(fitted).set_params(n_estimators=max(fitted.best_iteration_, 1), early_stopping_rounds=0)
    return clone(fitted)


@dataclass
class Outcome:
    chosen: str
    model: Any  # the chosen candidate refitted on the whole training part
    calibrator: Calibrator
    calibration_losses: dict[str, float]
    validation_auc: dict[str, float | None]
    refitted: dict[str, Any]  # every candidate refitted on the whole training part (for honest comparison)
    params: dict[str, dict[str, Any]]
    shift: ShiftReport | None = None  # only when a scoring population was given
    choice: str = ""  # why the chosen candidate, in words (e.g. simpler and within the noise of the best)


def run(
    X: pd.DataFrame,
    y: np.ndarray,
    kind: str,
    seed: int = 42,
    candidates: dict[str, Any] | None = None,
    blend: bool = True,
    compare_all: bool = True,
    progress: Callable[[str], None] | None = None,
    target: pd.DataFrame | None = None,
) -> Outcome:
    """`target`: the features of the population the model will score (no outcomes). When it lies beyond the
    training range of some features, only candidates that extrapolate them may win (see `shift`)."""

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    base = candidates if candidates is not None else default_candidates(seed)
    fit_idx, val_idx = inner_split(kind, y, seed)
    X_fit, y_fit = X.iloc[fit_idx], y[fit_idx]
    X_val, y_val = X.iloc[val_idx], y[val_idx]
    fitted: dict[str, Any] = {}
    val_scores: dict[str, np.ndarray] = {}
    for name, template in base.items():
        say(f"fitting {name} on {len(fit_idx):,} rows, validating on {len(val_idx):,}")
        fitted[name] = clone(template).fit(X_fit, y_fit, X_val, y_val)
        val_scores[name] = fitted[name].decision_function(X_val)
    if blend and len(fitted) > 1:
        fitted[BLEND] = BlendScorer.from_fitted(list(fitted.values()), X_fit)
        val_scores[BLEND] = fitted[BLEND].decision_function(X_val)
    val_auc = {name: auc_or_none(y_val, s) for name, s in val_scores.items()}
    shift: ShiftReport | None = None
    allowed = list(val_auc)
    if target is not None and len(target):
        say(f"comparing the training rows with {len(target):,} rows of the scoring population")
        shift = detect(X, target, seed)
        if shift.flagged:
            shift.eligible = [n for n in val_auc if extrapolates(fitted[n], X_fit, shift.flagged)]
            allowed = shift.eligible or allowed
    chosen, choice = prefer_simpler(allowed, val_auc, val_scores, y_val, seed)
    say(choice)
    say(f"calibrating {chosen}")
    shifted = shift is not None and shift.detected
    calibrator, losses = choose_calibrator(val_scores[chosen], y_val, seed, shifted)
    say(f"refitting on all {len(y):,} training rows")
    refitted: dict[str, Any] = {}
    needed = list(base) if compare_all or chosen == BLEND else [chosen]
    for name in needed:
        refitted[name] = refit_template(fitted[name]).fit(X, y)
    if BLEND in fitted and (compare_all or chosen == BLEND):
        refitted[BLEND] = BlendScorer.from_fitted([refitted[n] for n in base], X)
    params = {name: _plain_params(model) for name, model in refitted.items()}
    return Outcome(chosen, refitted[chosen], calibrator, losses, val_auc, refitted, params, shift, choice)


def prefer_simpler(
    allowed: list[str],
    val_auc: dict[str, float | None],
    val_scores: dict[str, np.ndarray],
    y_val: np.ndarray,
    seed: int,
) -> tuple[str, str]:
    """The best candidate on validation, unless a simpler one (earlier in `allowed`: naive Bayes, logistic,
    LightGBM, blend) is within the noise of it: its AUC deficit is no larger than one standard error of
    the paired bootstrap difference. A margin of 0.002 on a few thousand rows is no reason for trees."""
    from leadscore.predictive.uncertainty import paired_difference

    scored = [n for n in allowed if val_auc.get(n) is not None]
    if not scored:
        return allowed[0], f"chose {allowed[0]}: no validation AUC (one outcome only in the validation part)"
    best = max(scored, key=lambda n: float(val_auc[n] or 0.0))
    for name in scored[: scored.index(best)]:
        diff = paired_difference(y_val, val_scores[best], val_scores[name], n_boot=100, seed=seed)
        if diff.within_noise:
            return name, (
                f"chose {name} (validation AUC {val_auc[name]:.3f}) over {best} ({val_auc[best]:.3f}): "
                f"simpler, and the difference {diff.mean:+.3f} is within the noise (one standard error "
                f"{diff.se:.3f}, paired bootstrap over {len(y_val):,} validation rows)"
            )
    return best, f"chose {best}: best validation AUC {val_auc[best]:.3f}"


def _plain_params(model: Any) -> dict[str, Any]:
    if isinstance(model, BlendScorer):
        return {"members": [type(m).__name__ for m in model.members_]}
    return {k: v for k, v in model.get_params().items() if isinstance(v, int | float | str | bool | type(None))}
