"""Leakage guard: a single column that almost decides the outcome on its own was usually recorded after
the outcome (call duration, a "won date"). Name it so the user can --exclude it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

THRESHOLD = 0.95


def single_feature_auc(values: pd.Series, y: np.ndarray, seed: int = 42) -> float:
    """AUC of one feature alone, direction-free. Categories are scored by their outcome rate learned on
    one half and measured on the other, so a many-valued column cannot look predictive by memorising."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    if values.dtype.kind in "iufb":
        arr = values.to_numpy(dtype="float64")
        filled = np.where(np.isnan(arr), np.nanmin(arr) - 1 if np.isfinite(arr).any() else 0.0, arr)
        auc = float(roc_auc_score(y, filled))
        return max(auc, 1 - auc)
    codes = values.cat.codes.to_numpy()
    rng = np.random.default_rng(seed)
    half = rng.random(len(y)) < 0.5
    if half.all() or not half.any() or y[~half].min() == y[~half].max():
        return 0.5
    k = int(codes.max()) + 2
    c = np.where(codes < 0, k - 1, codes)
    pos = np.bincount(c[half], weights=y[half], minlength=k)
    cnt = np.bincount(c[half], minlength=k)
    rate = (pos + y[half].mean()) / (cnt + 1)
    auc = float(roc_auc_score(y[~half], rate[c[~half]]))
    return max(auc, 1 - auc)


SUSPICIOUS = 0.78
GAP = 0.12


def leakage_warnings(features: pd.DataFrame, y: np.ndarray) -> dict[str, str]:
    """Columns to question, with why. Above 0.95 alone is almost surely a leak; a column far ahead of all
    others (like a call's duration, known only after the call) is worth a second look."""
    aucs = {str(n): single_feature_auc(features[n], y) for n in features.columns}
    out: dict[str, str] = {}
    ranked = sorted(aucs.items(), key=lambda t: -t[1])
    for name, auc in ranked:
        if auc > THRESHOLD:
            out[name] = f"AUC {auc:.3f} on its own: probably known only after the outcome; consider --exclude {name}"
    if ranked and len(ranked) > 1 and ranked[0][0] not in out:
        (name, auc), runner_up = ranked[0], ranked[1][1]
        if auc >= SUSPICIOUS and auc - runner_up >= GAP:
            out[name] = (
                f"AUC {auc:.3f} on its own, far ahead of every other column ({runner_up:.3f}): check that it is "
                f"known before the outcome, or --exclude {name}"
            )
    return out
