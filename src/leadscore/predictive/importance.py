"""Which features the model leans on, two ways: the mean size of their contributions (gain-like, from the
model's own explanations) and permutation importance (how much the AUC drops when a feature's values are
shuffled across leads, so the model can no longer use them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

_MAX_ROWS = 5000


def permutation_importance(
    model: Any, X: pd.DataFrame, y: np.ndarray, seed: int = 42, repeats: int = 2
) -> dict[str, float]:
    """Mean drop in ROC AUC per feature when it is shuffled, on at most 5,000 rows; largest first."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(int)
    if len(y) > _MAX_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(len(y), _MAX_ROWS, replace=False))
        X, y = X.iloc[keep], y[keep]
    if y.min() == y.max():
        return {}
    base = float(roc_auc_score(y, model.decision_function(X)))
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {}
    for name in X.columns:
        drops = []
        for _ in range(repeats):
            shuffled = X.copy()
            # keep the column's dtype (a categorical stays one with the same categories)
            column = X[name].iloc[rng.permutation(len(X))]
            column.index = X.index
            shuffled[name] = column
            drops.append(base - float(roc_auc_score(y, model.decision_function(shuffled))))
        out[str(name)] = float(np.mean(drops))
    return dict(sorted(out.items(), key=lambda t: -t[1]))
