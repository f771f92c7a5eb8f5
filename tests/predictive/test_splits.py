"""The tournament's validation window is cut like the test period: snapshots kept whole, label windows
that reach into it purged."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.predictive.estimators import NaiveBayesScorer
from leadscore.predictive.splits import VALIDATION_FRACTION, inner_split, time_cut
from leadscore.predictive.training import train


def _snapshots(leads: int, snapshots: int, seed: int = 0) -> pd.DataFrame:
    """One row per lead and snapshot (times 0, 30, 60, ... days); the label looks 90 days ahead, so a
    lead's consecutive snapshots share their outcome."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 1, leads)
    rows = []
    for k in range(snapshots):
        won = rng.random(leads) < 1 / (1 + np.exp(-(quality - 1.5)))
        rows.append(pd.DataFrame({"t": 30.0 * k, "visits": rng.poisson(2 + np.exp(quality)), "won": won}))
    return pd.concat(rows, ignore_index=True)


def test_time_cut_keeps_a_snapshot_whole_and_purges_labels_that_look_into_the_later_part() -> None:
    times = np.repeat([0.0, 30.0, 60.0, 90.0, 120.0], 10)  # 50 rows; a plain 80/20 cut is at row 40
    earlier, later = time_cut(len(times), 0.25, times)  # row 37.5 -> 38, inside the snapshot at 90
    assert later[0] == 30 and times[later].min() == 90.0  # moved back to the start of that snapshot
    assert list(earlier) == list(range(30))
    earlier, later = time_cut(len(times), 0.25, times, purge=45.0)
    assert times[earlier].max() + 45.0 <= times[later].min()  # the 60-day snapshot's outcome reaches 105
    assert set(times[earlier]) == {0.0, 30.0}


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 20), min_size=10, max_size=80),
    st.floats(0.1, 0.5),
    st.sampled_from([0.0, 1.0, 3.0, 7.0]),
)
def test_time_cut_never_lets_an_earlier_label_reach_the_later_part(
    raw: list[int], fraction: float, purge: float
) -> None:
    times = np.sort(np.asarray(raw, dtype="float64"))
    earlier, later = time_cut(len(times), fraction, times, purge)
    assert len(later) >= 1 and not set(earlier) & set(later)
    if len(earlier) and times[0] < times[int(later[0])]:  # (one time for every row: no cut by time exists)
        assert times[earlier].max() < times[later].min()
        assert times[earlier].max() + purge <= times[later].min()
    assert list(later) == list(range(int(later[0]), len(times)))  # the later part is one recent window


def test_inner_split_by_time_purges_like_the_outer_split() -> None:
    times = np.repeat(np.arange(10) * 30.0, 20)
    y = np.tile([0, 1], 100)
    fit, val = inner_split("time", y, 0, times, purge=90.0)
    assert times[val].min() == 240.0 and len(val) == 40
    assert times[fit].max() == 150.0  # 180 and 210 have outcomes that look into the window
    fit_plain, _ = inner_split("time", y, 0)
    assert len(fit_plain) == round(len(y) * (1 - VALIDATION_FRACTION))


class _Recording(NaiveBayesScorer):
    """Naive Bayes that remembers the rows it was fitted on (the tournament clones it, so a class list)."""

    seen: ClassVar[list[np.ndarray]] = []

    def fit(self, X: pd.DataFrame, y: np.ndarray, *args: Any, **kwargs: Any) -> _Recording:
        type(self).seen.append(X["t_rows"].to_numpy().copy() if "t_rows" in X else np.array([len(X)]))
        return super().fit(X, y, *args, **kwargs)  # type: ignore[return-value]


@pytest.mark.slow
def test_training_with_a_label_horizon_validates_on_a_purged_window() -> None:
    frame = _snapshots(leads=300, snapshots=10)
    _Recording.seen = []
    result = train(frame, "won", time="t", split="time", purge=90.0, candidates={"nb": _Recording()}, seed=1)
    # the outer split: training up to t=210 at most (test from 240), purged by 90 days -> up to 150
    train_part, val_part = result.parts[0], result.parts[1]
    assert float(train_part["to"]) + 90.0 <= float(val_part["from"])
    # what the tournament fitted the candidate on before judging it: the purged fit part, not the plain cut
    first_fit = int(_Recording.seen[0][0])
    assert first_fit == int(train_part["rows"])
    plain = round(len(frame[frame["t"] <= 150.0]) * (1 - VALIDATION_FRACTION))
    assert first_fit < plain


def test_inner_split_keeps_the_cut_without_purge_when_the_purge_leaves_one_outcome() -> None:
    times = np.arange(100, dtype="float64")
    y = np.zeros(100, dtype=int)
    y[:3], y[85:] = 1, 1
    fit, val = inner_split("time", y, 0, times, purge=78.0)  # purged, only rows 0-2 (all converted) remain
    assert list(fit) == list(range(80)) and list(val) == list(range(80, 100))
    fit, _ = inner_split("time", y, 0, times, purge=70.0)  # rows 0-10: both outcomes, the purge holds
    assert list(fit) == list(range(11))
