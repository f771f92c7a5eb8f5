"""The parts of a split: rows put in time order, the cut between the earlier and the later part, and the
rows, positives and period of each part for the report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from leadscore.predictive import splits
from leadscore.predictive.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


def time_order(frame: pd.DataFrame, time: str) -> np.ndarray:
    import pandas as pd

    raw = frame[time]
    values = pd.to_numeric(raw, errors="coerce") if raw.dtype.kind in "iuf" else None
    if values is None or values.isna().all():
        values = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    bad = int(values.isna().sum())
    if bad:
        first = int(np.nonzero(values.isna().to_numpy())[0][0])
        raise DataError(f"time column {time!r}: {bad} row(s) without a readable time (first at data row {first + 1})")
    return np.argsort(values.to_numpy(), kind="stable")


def time_values(frame: pd.DataFrame, time: str | None) -> tuple[np.ndarray | None, bool]:
    """The time column as one ascending number per row (rows already in time order), and whether it is
    numeric in its own units (a purge is given in those units; dates get no purge)."""
    if not time:
        return None, False
    import pandas as pd

    raw = frame[time]
    if raw.dtype.kind in "iuf":
        return raw.to_numpy(dtype="float64"), True
    dates = pd.to_datetime(raw, utc=True, format="mixed")
    return dates.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").astype("int64").astype("float64"), False


def time_split(frame: pd.DataFrame, time: str | None, purge: float) -> tuple[np.ndarray, np.ndarray]:
    """The 80/20 cut by time, moved back to the start of a group of equal times (a snapshot is never
    split), and with training rows whose label window reaches into the test period dropped (`purge`, in
    the time column's numeric units): their outcome would be known only after the first test row."""
    values, numeric = time_values(frame, time)
    return splits.time_cut(len(frame), splits.TEST_FRACTION, values, purge if numeric else 0.0)


def parts(
    frame: pd.DataFrame, time: str | None, y: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray | None,
    refit: bool, purge: float = 0.0,
) -> list[dict[str, Any]]:  # fmt: skip
    """Rows, positives and period of each part of the split, for the report: what was learned from, what
    the choice was made on, what the figures are measured on."""

    def part(name: str, idx: np.ndarray) -> dict[str, Any]:
        out: dict[str, Any] = {"part": name, "rows": len(idx), "positives": int(y[idx].sum())}
        if len(idx):
            out.update(window(frame, time, idx, None)["training"])
        return out

    if test_idx is None:
        return [
            part("all rows (5 folds: each trained on 4/5, tested on 1/5)", train_idx),
        ]
    base = train_idx if not refit else np.setdiff1d(train_idx, test_idx)
    values, numeric = time_values(frame, time)
    times = None if values is None else values[base]
    fit_idx, val_idx = splits.inner_split("time", y[base], 0, times, purge if numeric else 0.0)
    out = [
        part("training: fit", base[fit_idx]),
        part("training: validation (choice, calibration)", base[val_idx]),
        part("test (held-out)", test_idx),
    ]
    if refit:
        out.append(part("artifact refitted on", train_idx))
    return out


def window(frame: pd.DataFrame, time: str | None, train_idx: np.ndarray, test_idx: np.ndarray | None) -> dict[str, Any]:
    def span(idx: np.ndarray) -> dict[str, Any]:
        if time:
            values = frame[time].iloc[idx]
            return {"from": str(values.min()), "to": str(values.max())}
        return {"from_row": int(idx.min()) + 1, "to_row": int(idx.max()) + 1}

    window = {"training": span(train_idx)}
    if test_idx is not None and len(test_idx):
        window["heldout"] = span(test_idx)
    return window
