"""Distribution summaries kept in the artifact, and the population stability index (PSI) against them.

PSI = sum((new - train) * ln(new / train)) over bins. Usual reading: < 0.1 stable, 0.1-0.25 moderate,
> 0.25 the population has changed enough that the model should be retrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MODERATE = 0.1
RETRAIN = 0.25
_EPS = 1e-4


def _numeric_edges(values: np.ndarray) -> list[float]:
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return []
    return [float(e) for e in np.unique(np.quantile(finite, np.linspace(0.1, 0.9, 9)))]


def _numeric_shares(values: np.ndarray, edges: list[float]) -> list[float]:
    values = np.asarray(values, dtype="float64")
    codes = np.searchsorted(np.asarray(edges), values, side="right")
    codes[np.isnan(values)] = len(edges) + 1
    counts = np.bincount(codes, minlength=len(edges) + 2).astype("float64")
    return (counts / max(len(values), 1)).tolist()


def summarise_column(values: pd.Series) -> dict[str, Any]:
    """Training-time summary of one feature (or of the score): bins and the share of rows in each."""
    if values.dtype.kind in "iufb":
        arr = values.to_numpy(dtype="float64")
        edges = _numeric_edges(arr)
        return {"kind": "numeric", "edges": edges, "shares": _numeric_shares(arr, edges)}
    codes = values.cat.codes.to_numpy()
    cats = [str(c) for c in values.cat.categories]
    counts = np.bincount(np.where(codes < 0, len(cats), codes), minlength=len(cats) + 1).astype("float64")
    return {"kind": "categorical", "levels": [*cats, "(missing/other)"], "shares": (counts / len(codes)).tolist()}


def shares_like(summary: dict[str, Any], values: pd.Series) -> list[float]:
    if summary["kind"] == "numeric":
        return _numeric_shares(values.to_numpy(dtype="float64"), summary["edges"])
    codes = values.cat.codes.to_numpy()
    k = len(summary["levels"])
    counts = np.bincount(np.where(codes < 0, k - 1, codes), minlength=k).astype("float64")
    return (counts / max(len(codes), 1)).tolist()


def psi(expected: list[float], actual: list[float]) -> float:
    e = np.asarray(expected) + _EPS
    a = np.asarray(actual) + _EPS
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass
class DriftRow:
    name: str
    psi: float
    status: str  # stable | moderate | retrain


def status_of(value: float) -> str:
    return "retrain" if value > RETRAIN else "moderate" if value > MODERATE else "stable"


def drift_rows(summaries: dict[str, dict[str, Any]], frame: pd.DataFrame) -> list[DriftRow]:
    rows = []
    for name, summary in summaries.items():
        if name in frame.columns:
            value = psi(summary["shares"], shares_like(summary, frame[name]))
            rows.append(DriftRow(name, value, status_of(value)))
    return sorted(rows, key=lambda r: -r.psi)
