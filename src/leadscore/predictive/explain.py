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


def top_factors(
    features: pd.DataFrame, contributions: np.ndarray, top: int = 3
) -> tuple[list[list[str]], list[list[str]]]:
    """Per row, the `top` strongest positive and negative contributions, strongest first."""
    names = list(features.columns)
    if top <= 0 or len(features) == 0:
        return [[] for _ in range(len(features))], [[] for _ in range(len(features))]
    columns = [features[n].astype("object").to_numpy() for n in names]
    order = np.argsort(-contributions, axis=1, kind="stable")
    k = min(top, len(names))
    positives: list[list[str]] = []
    negatives: list[list[str]] = []
    for i in range(len(features)):
        row = contributions[i]
        pos = [describe(names[j], columns[j][i], row[j]) for j in order[i, :k] if row[j] > MIN_EFFECT]
        neg = [describe(names[j], columns[j][i], row[j]) for j in order[i, ::-1][:k] if row[j] < -MIN_EFFECT]
        positives.append(pos)
        negatives.append(neg)
    return positives, negatives


def global_importance(contributions: np.ndarray, names: list[str]) -> dict[str, float]:
    """Mean absolute contribution per feature: what the model leans on overall."""
    values = np.abs(contributions).mean(axis=0)
    return {n: float(v) for n, v in sorted(zip(names, values, strict=True), key=lambda t: -t[1])}
