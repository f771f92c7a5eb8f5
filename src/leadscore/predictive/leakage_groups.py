"""Leakage that no single column shows: fields sales fills in after contact (a lead quality, a profile, a
last activity) are each only fairly predictive, but together they give the outcome away, and they tend
to have a value mostly for the leads that converted, or only for the older leads (the newest have not
been worked yet). Three checks, each naming the columns and the `--exclude` that removes them:

- a column whose *having a value* predicts the outcome, or that is far emptier in the latest rows;
- the suspect columns together (a small model on them alone) far above any of them alone;
- a jump in AUC when the suspect columns are added to all the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from leadscore.predictive.leakage import single_feature_auc

if TYPE_CHECKING:
    import pandas as pd

SUSPECT_ALONE = 0.70  # a column this predictive alone is worth checking as part of a group
FILLED_AUC = 0.70  # "has a value" alone separates the outcomes this well
LATE_RATIO = 0.5  # fill rate in the latest rows below this share of the earlier rate
GROUP_AUC = 0.80  # the suspects together, on their own
GROUP_GAIN = 0.03  # ... above the best of them alone
JUMP = 0.03  # AUC added by the suspects to all other columns
_MAX_ROWS = 20_000


def _exclude_hint(columns: list[str]) -> str:
    return " ".join(f"--exclude {c!r}" if " " in c else f"--exclude {c}" for c in columns)


def _cross_auc(X: pd.DataFrame, y: np.ndarray, seed: int) -> float:
    """Two-fold cross-fitted AUC of a small LightGBM: enough to see what a set of columns knows."""
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    params = {
        "objective": "binary", "learning_rate": 0.1, "num_leaves": 15, "min_data_in_leaf": 30, "seed": seed,
        "deterministic": True, "force_col_wise": True, "num_threads": 1, "verbose": -1,
    }  # fmt: skip
    guess = np.zeros(len(y))
    for fit, held in StratifiedKFold(2, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
        booster = lgb.train(params, lgb.Dataset(X.iloc[fit], label=y[fit]), num_boost_round=100)
        guess[held] = booster.predict(X.iloc[held])
    return float(roc_auc_score(y, guess))


def _filled(X: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {}
    for name in X.columns:
        has = X[name].notna().to_numpy()
        if 0.02 < has.mean() < 0.98:
            out[str(name)] = has
    return out


def group_warnings(
    X: pd.DataFrame, y: np.ndarray, *, ordered: bool = False, seed: int = 42, known: set[str] | None = None
) -> list[str]:
    """Warnings (with the columns named) for leakage by groups of columns. `ordered`: rows are in time
    order, so a column empty in the latest rows can be seen. `known`: columns already warned about alone."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).astype(int)
    known = known or set()
    out: list[str] = []
    suspects: dict[str, str] = {}
    for name, has in _filled(X).items():
        auc = float(roc_auc_score(y, has))
        if max(auc, 1 - auc) >= FILLED_AUC:
            pos, neg = has[y == 1].mean(), has[y == 0].mean()
            suspects[name] = (
                f"{name} has a value for {pos:.0%} of converted leads and {neg:.0%} of the others: "
                "a field filled in after contact?"
            )
        if ordered and len(has) >= 200:
            tail = max(len(has) // 10, 20)
            early, late = has[:-tail].mean(), has[-tail:].mean()
            if early >= 0.2 and late < LATE_RATIO * early:
                suspects.setdefault(
                    name,
                    f"{name} has a value for {early:.0%} of the earlier rows but {late:.0%} of the latest: its "
                    "values arrive after the outcome window",
                )
    for text in suspects.values():
        out.append(text)
    if len(y) > _MAX_ROWS:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(y), _MAX_ROWS, replace=False))
        X, y = X.iloc[keep], y[keep]
    if y.min() == y.max() or min(y.sum(), len(y) - y.sum()) < 10:
        return out
    alone = {str(n): single_feature_auc(X[n], y, seed) for n in X.columns}
    group = [n for n in X.columns if str(n) in suspects or alone[str(n)] >= SUSPECT_ALONE]
    group = [n for n in group if str(n) not in known or str(n) in suspects]
    if not group:
        return out
    names = [str(n) for n in group]
    best_alone = max(alone[n] for n in names)
    together = _cross_auc(X[group], y, seed) if len(group) > 1 else best_alone
    rest = [n for n in X.columns if n not in group]
    everything = _cross_auc(X, y, seed)
    without = _cross_auc(X[rest], y, seed) if rest else 0.5
    listed = ", ".join(names)
    if len(group) > 1 and together >= GROUP_AUC and together >= best_alone + GROUP_GAIN:
        out.append(
            f"together, {listed} reach AUC {together:.3f} on their own (the best of them alone {best_alone:.3f}): "
            f"check that all are known before the outcome, or {_exclude_hint(names)}"
        )
    if everything - without >= JUMP and together >= GROUP_AUC:
        out.append(
            f"adding {listed} to the other columns lifts the AUC from {without:.3f} to {everything:.3f}: if they "
            f"are recorded after contact, the lift is leakage; {_exclude_hint(names)}"
        )
    return out
