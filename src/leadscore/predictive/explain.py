"""Top factors in plain words: "poutcome = success (+1.20)". The numbers are log-odds contributions, the
same units for every model, so a salesperson can compare them across leads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MIN_EFFECT = 0.005


def _format_value(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        v = float(value)
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    return str(value)


def describe(name: str, value: object, effect: float) -> str:
    text = _format_value(value)
    where = f"{name} is missing" if text == "" else f"{name} = {text}"
    return f"{where} ({effect:+.2f})"


def _labels(name: str, column: pd.Series) -> np.ndarray:
    """ "name = value" (or "name is missing") for every row of one feature, built column-wise for speed."""
    import pandas as pd

    if column.dtype.kind == "f":
        arr = column.to_numpy(dtype="float64")
        finite = np.isfinite(arr)
        integral = finite & (np.mod(arr, 1) == 0) & (np.abs(arr) < 1e15)
        text = np.where(integral, np.nan_to_num(arr).astype("int64").astype(str), np.char.mod("%.4g", arr))
        missing = ~finite
    else:
        values = pd.Series(column.astype("object"))
        missing = values.isna().to_numpy()
        # fill first: with pandas' string dtype, astype(str) keeps missing values as float NaN
        text = values.where(~missing, "").astype(str).to_numpy(dtype=object)
    out = np.array([f"{name} = "], dtype=object) + text.astype(object)
    out[missing] = f"{name} is missing"
    return out


def top_factors(
    features: pd.DataFrame, contributions: np.ndarray, top: int = 3, phrases: dict[str, np.ndarray] | None = None
) -> tuple[list[list[str]], list[list[str]]]:
    """Per row, the `top` strongest positive and negative contributions, strongest first. `phrases`: the
    words for each feature's value per row (see `phrasing`); "name = value" where not given."""
    n = len(features)
    names = list(features.columns)
    if top <= 0 or n == 0:
        return [[] for _ in range(n)], [[] for _ in range(n)]
    given = phrases or {}
    labels = [given[name] if name in given else _labels(name, features[name]) for name in names]
    order = np.argsort(-contributions, axis=1, kind="stable")
    k = min(top, len(names))
    rows = np.arange(n)

    def ranked(positions: np.ndarray, sign: int) -> list[list[str]]:
        texts, keeps = [], []
        for t in range(k):
            j = positions[:, t]
            effect = contributions[rows, j]
            label = np.empty(n, dtype=object)
            for f in np.unique(j):
                mask = j == f
                label[mask] = labels[f][mask]
            texts.append(label + " (" + np.char.mod("%+.2f", effect).astype(object) + ")")
            keeps.append(effect * sign > MIN_EFFECT)
        return [[texts[t][i] for t in range(k) if keeps[t][i]] for i in range(n)]

    return ranked(order, 1), ranked(order[:, ::-1], -1)


def global_importance(contributions: np.ndarray, names: list[str]) -> dict[str, float]:
    """Mean absolute contribution per feature: what the model leans on overall."""
    values = np.abs(contributions).mean(axis=0)
    return {n: float(v) for n, v in sorted(zip(names, values, strict=True), key=lambda t: -t[1])}
