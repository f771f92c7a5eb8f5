"""Each feature's value in words a salesperson reads, for the top factors of a flat-table model.

A number alone says little ("Page Views Per Visit = 0 (+0.35)"): it is put in its range among the training
leads ("no Page Views Per Visit", "age 29-33", "balance above 5,000"). Dates read as months and weekdays,
the rare-value bucket as "a rare value", and a value that is there is never called missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from leadscore.predictive.features import OTHER

if TYPE_CHECKING:
    import pandas as pd

    from leadscore.predictive.features import Feature


def number(value: float) -> str:
    if not np.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _numeric_labels(name: str, values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Range phrases: the training deciles a value falls between."""
    out = np.empty(len(values), dtype=object)
    missing = np.isnan(values)
    out[missing] = f"{name} is missing"
    cuts = np.asarray(edges, dtype="float64")
    if not cuts.size:
        for i in np.nonzero(~missing)[0]:
            out[i] = f"{name} {number(values[i])}"
        return out
    band = np.searchsorted(cuts, np.nan_to_num(values), side="left")
    texts: dict[int, str] = {}
    for b in np.unique(band[~missing]):
        if b == 0:
            texts[int(b)] = f"{name} {number(cuts[0])} or less"
        elif b >= len(cuts):
            texts[int(b)] = f"{name} above {number(cuts[-1])}"
        else:
            texts[int(b)] = f"{name} {number(cuts[b - 1])}-{number(cuts[b])}"
    for i in np.nonzero(~missing)[0]:
        out[i] = texts[int(band[i])]
    # no activity is its own answer, and the plainest: "no page views", not "page views 0 or less"
    zero = ~missing & (values == 0) & (cuts[0] >= 0)
    out[zero] = f"no {name}"
    return out


def _date_labels(feat: Feature, values: pd.Series) -> np.ndarray | None:
    src = feat.source
    if feat.derive == "date_trend":
        arr = values.to_numpy(dtype="float64")
        out = np.empty(len(arr), dtype=object)
        ok = np.isfinite(arr)
        out[~ok] = f"{src} is missing"
        year = np.floor(arr[ok] + 1e-9).astype(int)
        month = np.rint((arr[ok] - year) * 12).astype(int) + 1
        out[ok] = [f"{src} in {y}-{m:02d}" for y, m in zip(year, month, strict=True)]
        return out
    if feat.derive in ("date_monthname", "date_weekday"):
        text = values.astype("object")
        prefix = "in" if feat.derive == "date_monthname" else "on a"
        return np.array([f"{src} is missing" if v is None or v != v else f"{src} {prefix} {v}" for v in text], object)
    if feat.derive == "date_days_before":
        arr = values.to_numpy(dtype="float64")
        return np.array(
            [f"{src} is missing" if np.isnan(v) else f"{src} {number(round(v))} days earlier" for v in arr], object
        )
    if feat.derive == "date_hour":
        arr = values.to_numpy(dtype="float64")
        return np.array([f"{src} is missing" if np.isnan(v) else f"{src} at {int(v)}h" for v in arr], object)
    return None


def _categorical_labels(name: str, column: pd.Series) -> np.ndarray:
    import pandas as pd

    values = pd.Series(column.astype("object"))
    missing = values.isna().to_numpy()
    text = values.where(~missing, "").astype(str).to_numpy(dtype=object)
    out = np.array([f"{name} = "], dtype=object) + text
    out[missing] = f"{name} is missing"
    out[text == OTHER] = f"{name} is a rare value"
    return out


def feature_labels(
    features: list[Feature], X: pd.DataFrame, summaries: dict[str, dict[str, Any]]
) -> dict[str, np.ndarray]:
    """Per feature, the phrase for every row of `X`. `summaries`: the artifact's drift summaries (their
    decile edges are the ranges)."""
    out: dict[str, np.ndarray] = {}
    for feat in features:
        column = X[feat.name]
        dated = _date_labels(feat, column)
        if dated is not None:
            out[feat.name] = dated
        elif feat.kind == "numeric":
            edges = summaries.get(feat.name, {}).get("edges", [])
            out[feat.name] = _numeric_labels(feat.name, column.to_numpy(dtype="float64"), edges)
        else:
            out[feat.name] = _categorical_labels(feat.name, column)
    return out
