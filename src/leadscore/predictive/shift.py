"""Population shift between the rows a model learns from and the leads it will score (features only).

Adversarial validation: a small classifier learns to tell training rows from the scoring population; if
it can (cross-fitted ROC AUC well above 0.5), the population has moved, and its most used features say
where. No outcome is looked at, so the scoring population may be today's unlabelled leads.

What matters for choosing a model is whether the population lies beyond the training range of some
feature. Trees and binned models score every value beyond the range like the edge of the range: whatever
the feature said about conversion stops moving there. Only terms that are linear in the feature carry on.
A validation window cut from the training part usually cannot show this (it lies inside the range too),
so when it happens the tournament keeps to candidates that extrapolate those features (see
`extrapolates`). When the data have moved all along, the later validation window lies beyond the range
of the earlier fit part too: validation then has measured what every candidate does beyond its range,
and the choice is left to it (see `beyond_range`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

SHIFT_AUC = 0.75  # adversarial ROC AUC from which the populations are called different
OUTSIDE_SHARE = 0.2  # share of the scoring population beyond the training range that flags a feature
_MAX_ROWS = 20_000  # per side; the classifier only has to see that the populations differ
_FOLDS = 3


@dataclass
class ShiftReport:
    adversarial_auc: float
    drivers: dict[str, float]  # features the adversarial classifier used most, share of its total gain
    outside: dict[str, float]  # numeric features: share of the scoring population beyond the training range
    eligible: list[str] = field(default_factory=list)  # candidates kept because they extrapolate (if flagged)
    # flagged feature -> share of the validation window beyond the fit part's range, when it was measured
    validated: dict[str, float] = field(default_factory=dict)

    @property
    def seen_by_validation(self) -> bool:
        """Whether the validation window itself lay beyond the fit part's range on every flagged feature."""
        flagged = self.flagged
        return bool(flagged) and all(self.validated.get(n, 0.0) >= OUTSIDE_SHARE for n in flagged)

    @property
    def detected(self) -> bool:
        return self.adversarial_auc >= SHIFT_AUC

    @property
    def flagged(self) -> list[str]:
        """Features on which the scoring population lies beyond the training range (only under a shift)."""
        if not self.detected:
            return []
        return [name for name, share in self.outside.items() if share >= OUTSIDE_SHARE]

    def describe(self) -> str:
        if not self.detected:
            return f"no population shift (adversarial AUC {self.adversarial_auc:.2f})"
        drivers = ", ".join(self.drivers) or "none"
        text = f"population shift detected (adversarial AUC {self.adversarial_auc:.2f}); driven by {drivers}"
        if self.flagged:
            beyond = ", ".join(f"{n} {self.outside[n]:.0%}" for n in self.flagged)
            text += f"; beyond the training range: {beyond}"
            if self.seen_by_validation:
                seen = ", ".join(f"{n} {self.validated[n]:.0%}" for n in self.flagged)
                text += (
                    f"; the validation window lies beyond the fit part's range too ({seen}), so validation "
                    "measured every candidate there and the choice is left to it"
                )
            else:
                kept = ", ".join(self.eligible) if self.eligible else "none, so the choice is unrestricted"
                text += f"; candidates that extrapolate them: {kept}"
        return text

    def summary(self) -> dict[str, Any]:
        return {
            "adversarial_auc": self.adversarial_auc,
            "detected": self.detected,
            "drivers": self.drivers,
            "beyond_training_range": {n: self.outside[n] for n in self.flagged},
            "eligible": self.eligible,
            "validation_beyond_fit_range": {n: self.validated[n] for n in self.flagged if n in self.validated},
            "choice_left_to_validation": self.seen_by_validation,
        }


def _sample(X: pd.DataFrame, seed: int) -> pd.DataFrame:
    if len(X) <= _MAX_ROWS:
        return X
    rng = np.random.default_rng(seed)
    return X.iloc[np.sort(rng.choice(len(X), _MAX_ROWS, replace=False))]


def detect(X_train: pd.DataFrame, X_target: pd.DataFrame, seed: int = 42) -> ShiftReport:
    """Adversarial AUC (cross-fitted), the features behind it, and where the target leaves the range."""
    import lightgbm as lgb
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    a, b = _sample(X_train, seed), _sample(X_target, seed)
    both = pd.concat([a, b], ignore_index=True)
    side = np.r_[np.zeros(len(a)), np.ones(len(b))]
    params = {
        "objective": "binary",
        "learning_rate": 0.1,
        "num_leaves": 15,
        "min_data_in_leaf": 50,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 1,
        "verbose": -1,
    }
    guess = np.zeros(len(both))
    gain = np.zeros(both.shape[1])
    folds = StratifiedKFold(n_splits=_FOLDS, shuffle=True, random_state=seed)
    for fit, held in folds.split(np.zeros(len(side)), side):
        booster = lgb.train(params, lgb.Dataset(both.iloc[fit], label=side[fit]), num_boost_round=100)
        guess[held] = booster.predict(both.iloc[held])
        gain += booster.feature_importance("gain")
    auc = float(roc_auc_score(side, guess))
    total = float(gain.sum()) or 1.0
    ranked = sorted(zip(both.columns, gain / total, strict=True), key=lambda t: -t[1])
    drivers = {str(n): round(float(s), 3) for n, s in ranked if s >= 0.05}
    numeric = [str(n) for n in X_train.columns if X_train[n].dtype.kind == "f" and X_train[n].notna().any()]
    return ShiftReport(auc, drivers, beyond_range(X_train, X_target, numeric))


def beyond_range(X_ref: pd.DataFrame, X_new: pd.DataFrame, features: list[str]) -> dict[str, float]:
    """Share of `X_new`'s rows beyond the range `X_ref` spans, per numeric feature."""
    out: dict[str, float] = {}
    for name in features:
        seen = X_ref[name].to_numpy(dtype="float64")
        values = X_new[name].to_numpy(dtype="float64")
        if np.isnan(seen).all() or not len(values):
            out[name] = 0.0
            continue
        lo, hi = float(np.nanmin(seen)), float(np.nanmax(seen))
        out[name] = float(np.mean((values < lo) | (values > hi)))
    return out


def extrapolates(model: Any, X: pd.DataFrame, features: list[str], rows: int = 2000) -> bool:
    """Whether the model's term for each feature is affine in it (so it carries on beyond the range).

    Read from the model's own additive contributions on training rows, so it holds for any candidate that
    explains its scores, whatever its type. A constant term also passes: the feature then does not matter.
    """
    sample = X.iloc[:: max(1, len(X) // rows)]
    contrib = np.asarray(model.contributions(sample))
    names = list(getattr(model, "feature_names_", list(X.columns)))
    for name in features:
        if name not in names:
            continue
        x = sample[name].to_numpy(dtype="float64")
        c = contrib[:, names.index(name)]
        keep = ~np.isnan(x)
        x, c = x[keep], c[keep]
        if len(x) < 3 or np.ptp(x) == 0 or np.std(c) < 1e-9:
            continue
        slope, intercept = np.polyfit(x, c, 1)
        residual = c - (slope * x + intercept)
        if float(np.sum(residual**2)) > 1e-3 * float(np.sum((c - c.mean()) ** 2)):
            return False
    return True
