"""Honest splits. By time, the model is judged on leads that came after everything it learned from; the
tournament's validation part is carved from the training part the same way, so choosing a model never
looks at the test rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

SplitKind = Literal["auto", "time", "stratified"]

TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.2
FOLDS = 5


@dataclass(frozen=True)
class SplitPlan:
    kind: Literal["time", "stratified"]
    order: str  # "column <name>" or "file order" for time; "shuffled, seed N" for stratified
    description: str


def resolve(kind: SplitKind, time_column: str | None, seed: int) -> SplitPlan:
    if kind == "auto":
        kind = "time" if time_column else "stratified"
    if kind == "time":
        order = f"column {time_column}" if time_column else "file order"
        desc = f"time ({order}): first {1 - TEST_FRACTION:.0%} train -> last {TEST_FRACTION:.0%} test"
        return SplitPlan("time", order, desc)
    return SplitPlan("stratified", f"seed {seed}", f"stratified {FOLDS}-fold cross-validation (seed {seed})")


def time_holdout(n: int, fraction: float = TEST_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in time order) of the earlier and the later part."""
    cut = round(n * (1 - fraction))
    return np.arange(cut), np.arange(cut, n)


def stratified_holdout(
    y: np.ndarray, seed: int, fraction: float = VALIDATION_FRACTION
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    a, b = train_test_split(idx, test_size=fraction, stratify=y, random_state=seed)
    return np.sort(a), np.sort(b)


def inner_split(kind: str, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The tournament's fit/validation split inside a training part, made the same way as the outer one."""
    if kind == "time":
        return time_holdout(len(y), VALIDATION_FRACTION)
    return stratified_holdout(y, seed)


def stratified_folds(y: np.ndarray, seed: int, folds: int = FOLDS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    yield from splitter.split(np.zeros(len(y)), y)
