"""The model tournament inside one training part: fit every candidate on the earlier (or a stratified)
part, judge them on the validation part, keep the best, refit it on the whole training part and calibrate
it on validation scores it never trained on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import clone

from leadscore.predictive.blend import BlendScorer
from leadscore.predictive.calibration import Calibrator, align_to_refit, choose_calibrator
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.metrics import auc_or_none
from leadscore.predictive.recalibration import backtest
from leadscore.predictive.scorecard import ScorecardScorer
from leadscore.predictive.shift import ShiftReport, beyond_range, detect, extrapolates
from leadscore.predictive.splits import VALIDATION_FRACTION, inner_split, time_holdout

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

BLEND = "blend"


def default_candidates(seed: int = 42, max_rounds: int = 2000) -> dict[str, Any]:
    """The base candidates, simplest first; the blend of them all is added by the tournament."""
    return {
        "naive_bayes": NaiveBayesScorer(smoothing=0.1),
        "logistic": LogisticScorer(C=1.0, seed=seed),
        "scorecard": ScorecardScorer(C=0.3, seed=seed),
        "lightgbm": LightGBMScorer(n_estimators=max_rounds, seed=seed),
    }


def refit_template(fitted: Any) -> Any:
    """An unfitted copy that repeats what validation decided (e.g. the number of boosting rounds)."""
    if isinstance(fitted, LightGBMScorer):
        return clone(fitted).set_params(n_estimators=max(fitted.best_iteration_, 1), early_stopping_rounds=0)
    inner = getattr(fitted, "base_", None)  # a wrapper (target encoding) repeats its fitted candidate's recipe
    if inner is not None:
        return clone(fitted).set_params(base=refit_template(inner))
    return clone(fitted)


def _stops_early(template: Any) -> bool:
    inner = getattr(template, "base", None)
    return _stops_early(inner) if inner is not None else getattr(template, "early_stopping_rounds", 0) > 0


def fit_candidate(
    template: Any,
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_val: pd.DataFrame,
    y_val: np.ndarray,
    kind: str,
    sample_weight: np.ndarray | None = None,
) -> Any:
    """Fit a candidate to be judged on the validation part.

    Under a time split a candidate that stops early (boosting) does not stop on the validation window:
    rounds chosen on the very rows that judge the candidates flatter it against the others, and under a
    shift that flattery decides the choice (on the bank data by time, trees stopped on the window led it
    by 0.02 AUC there and trailed by 0.15 on the later test rows). It stops on the last fifth of the fit
    part instead, then is refitted on the whole fit part with the rounds found."""
    if kind == "time" and _stops_early(template):
        a, b = time_holdout(len(y_fit), VALIDATION_FRACTION)
        if len(np.unique(y_fit[a])) == 2 and len(np.unique(y_fit[b])) == 2:
            w = None if sample_weight is None else sample_weight[a]
            probe = clone(template).fit(X_fit.iloc[a], y_fit[a], X_fit.iloc[b], y_fit[b], sample_weight=w)
            return refit_template(probe).fit(X_fit, y_fit, sample_weight=sample_weight)
    return clone(template).fit(X_fit, y_fit, X_val, y_val, sample_weight=sample_weight)


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
    recency: dict[str, Any] = field(default_factory=dict)  # half-life tried and kept (time splits), and why
    recalibration: dict[str, Any] = field(default_factory=dict)  # the method recommended (time splits), and why
    alignment: dict[str, Any] = field(default_factory=dict)  # the curve moved to the refitted model (time splits)


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
    times: np.ndarray | None = None,
    purge: float = 0.0,
    recipe: Outcome | None = None,
) -> Outcome:
    """`target`: the features of the population the model will score (no outcomes). When it lies beyond the
    training range of some features, only candidates that extrapolate them may win (see `shift`).
    `times`, `purge`: the rows' times (ascending) and label horizon, so that the validation window is cut
    like the test period (see `splits.inner_split`). `recipe`: an earlier outcome whose choice (candidate
    and recency weighting) is repeated rather than made again, so that a refit on more rows trains the
    model that was evaluated; only the calibration is fitted anew, on the new validation window."""

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    base = candidates if candidates is not None else default_candidates(seed)
    if recipe is not None and recipe.chosen != BLEND:
        base = {recipe.chosen: base[recipe.chosen]}  # the others are not needed to repeat the choice
    fit_idx, val_idx = inner_split(kind, y, seed, times, purge)
    X_fit, y_fit = X.iloc[fit_idx], y[fit_idx]
    X_val, y_val = X.iloc[val_idx], y[val_idx]
    fitted: dict[str, Any] = {}
    val_scores: dict[str, np.ndarray] = {}
    for name, template in base.items():
        say(f"fitting {name} on {len(fit_idx):,} rows, validating on {len(val_idx):,}")
        fitted[name] = fit_candidate(template, X_fit, y_fit, X_val, y_val, kind)
        val_scores[name] = fitted[name].decision_function(X_val)
    if blend and len(fitted) > 1:
        fitted[BLEND] = BlendScorer.from_fitted(list(fitted.values()), X_fit)
        val_scores[BLEND] = fitted[BLEND].decision_function(X_val)
    val_auc = {name: auc_or_none(y_val, s) for name, s in val_scores.items()}
    shift: ShiftReport | None = None
    allowed = list(val_auc)
    if target is not None and len(target):
        say(f"comparing the training rows with {len(target):,} rows of the scoring population")
        # only the columns the population was given with: a date's trend is left out by the caller, since
        # future leads lie beyond the training range of time itself by construction
        comparable = [c for c in X.columns if c in target.columns]
        shift = detect(X[comparable], target[comparable], seed)
        if shift.flagged:
            # a later validation window that also lies beyond the fit part's range has measured what each
            # candidate does there: no need to keep to the extrapolating ones (see shift.beyond_range)
            shift.validated = beyond_range(X_fit, X_val, shift.flagged) if kind == "time" else {}
            shift.eligible = [n for n in val_auc if extrapolates(fitted[n], X_fit, shift.flagged)]
            if not shift.seen_by_validation:
                allowed = shift.eligible or allowed
    half_life: float | None = None
    recency: dict[str, Any] = {}
    if recipe is not None:
        chosen, half_life, recency = recipe.chosen, recipe.recency.get("half_life"), recipe.recency
        choice = f"kept {chosen}, the candidate evaluated (validation AUC {val_auc.get(chosen) or 0.0:.3f} here)"
        if half_life:
            fit_weight = recency_weights(len(y_fit), half_life)
            model = fit_candidate(base[chosen], X_fit, y_fit, X_val, y_val, kind, sample_weight=fit_weight)
            val_scores[chosen] = model.decision_function(X_val)
            choice += f", with its recency weighting (half-life {half_life:.0%} of the span)"
    else:
        chosen, choice = prefer_simpler(allowed, val_auc, val_scores, y_val, seed)
    say(choice)
    if recipe is None and kind == "time" and chosen != BLEND:
        half_life, weighted, note = choose_recency(base[chosen], X_fit, y_fit, X_val, y_val, val_scores[chosen], seed)
        choice += f"; {note}"
        recency = {"candidate": chosen, "tried": list(HALF_LIVES), "half_life": half_life, "why": note}
        if weighted is not None:
            val_scores[chosen] = weighted
    say(f"calibrating {chosen}")
    shifted = shift is not None and shift.detected
    calibrator, losses = choose_calibrator(val_scores[chosen], y_val, seed, shifted)
    # how to follow the rate later (`leadscore recalibrate`), tried on the validation window in time order
    recalibration = backtest(val_scores[chosen], y_val, curve=calibrator.method) if kind == "time" else {}
    say(f"refitting on all {len(y):,} training rows")
    refitted: dict[str, Any] = {}
    needed = list(base) if compare_all or chosen == BLEND else [chosen]
    for name in needed:
        weight = recency_weights(len(y), half_life) if name == chosen and half_life else None
        refitted[name] = refit_template(fitted[name]).fit(X, y, sample_weight=weight)
    if BLEND in fitted and (compare_all or chosen == BLEND):
        refitted[BLEND] = BlendScorer.from_fitted([refitted[n] for n in base], X)
    params = {name: _plain_params(model) for name, model in refitted.items()}
    alignment: dict[str, Any] = {}
    if kind == "time":
        # the curve was fitted on scores of the model before the window; the artifact ships the refit
        calibrator, alignment = align_to_refit(calibrator, refitted[chosen].decision_function(X_val), y_val)
    return Outcome(
        chosen, refitted[chosen], calibrator, losses, val_auc, refitted, params, shift, choice, recency, recalibration,
        alignment,
    )  # fmt: skip


HALF_LIVES = (0.5, 0.2)  # as shares of the training span: recent rows count double every half-life


def recency_weights(n: int, half_life: float) -> np.ndarray:
    """Weights for rows in time order: the latest counts 1, a row one half-life (share of the span) older 1/2."""
    age = (n - 1 - np.arange(n)) / max(n, 1)
    return np.asarray(0.5 ** (age / half_life))


def choose_recency(
    template: Any,
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_val: pd.DataFrame,
    y_val: np.ndarray,
    plain: np.ndarray,
    seed: int,
) -> tuple[float | None, np.ndarray | None, str]:
    """Whether weighting recent training rows more helps the chosen candidate on the later validation
    window (the same gap as between the training and the scoring period). Kept only when it is better
    beyond the noise (one standard error of a paired bootstrap): rates and campaigns move, but a window
    of a few thousand rows easily flatters a weighting by chance."""
    from leadscore.predictive.uncertainty import paired_difference

    best: tuple[float, float | None, np.ndarray | None] = (0.0, None, None)
    for half_life in HALF_LIVES:
        weight = recency_weights(len(y_fit), half_life)
        model = fit_candidate(template, X_fit, y_fit, X_val, y_val, "time", sample_weight=weight)
        scores = model.decision_function(X_val)
        diff = paired_difference(y_val, scores, plain, n_boot=100, seed=seed)
        if diff.mean > diff.se and diff.mean > best[0]:
            best = (diff.mean, half_life, scores)
    if best[1] is None:
        return None, None, "recency weighting (half-lives 0.5, 0.2 of the span) no better on validation: not used"
    return best[1], best[2], f"recency weighting with a half-life of {best[1]:.0%} of the span: +{best[0]:.3f} AUC"


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
