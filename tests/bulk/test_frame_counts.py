"""`bulk.frame_counts`: the flags' running counts packed three to a lane give every frame's count a
running count of the flag alone gives, packed or not (a part of 2 ** 21 rows or more), whatever the
order the flags are asked for in and the frames' starts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.bulk import frame_counts
from leadscore.bulk.frame_counts import CountLanes, Gathered, counts
from leadscore.bulk.frame_rows import Rows
from tests.support.profiles import examples


def _rows(flags: dict[str, np.ndarray], n: int) -> Rows:
    return Rows(np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64), lambda name: flags[name])


@settings(max_examples=examples(100), deadline=None)
@given(
    n=st.integers(0, 300),
    n_flags=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
    packs=st.booleans(),
    asks=st.integers(1, 3),
)
def test_counts_equal_each_flags_own_running_count(n: int, n_flags: int, seed: int, packs: bool, asks: int) -> None:
    rng = np.random.default_rng(seed)
    names = [f"f{i}" for i in range(n_flags)]
    # dense and sparse flags, all true and all false among them
    flags = {name: rng.random(n) < rng.choice([0.0, 0.05, 0.5, 1.0]) for name in names}
    lanes = CountLanes(_rows(flags, n))
    lanes.packs = packs
    # the flags asked for over several calls, some twice (as `Aggregates.at`'s calls do)
    for part in np.array_split(rng.permutation(names + names[: n_flags // 2]), asks):
        lanes.add([str(x) for x in part])
    assert sorted(lanes.where) == sorted(names)
    assert len(lanes.lanes) >= (n_flags + frame_counts.PER_LANE - 1) // frame_counts.PER_LANE
    if not packs:
        assert len(lanes.lanes) == n_flags
    end = np.sort(rng.integers(0, n + 1, size=20)) if n else np.zeros(0, dtype=np.int64)
    for micros in (None, 5):
        start = np.minimum(end, rng.integers(0, n + 1, size=len(end))) if n else end
        got = Gathered(lanes, end)
        for name in names:
            own = counts(flags[name])
            expected = own[end] - own[start]
            assert np.array_equal(got.count(name, micros, start), expected)
            assert np.array_equal(got.count(name, micros, start), expected)  # (gathered once, read again)


def test_a_part_of_2_21_rows_or_more_counts_each_flag_alone() -> None:
    n = 2**frame_counts.FIELD_BITS
    flags = {"a": np.ones(n, dtype=bool), "b": np.zeros(n, dtype=bool)}
    lanes = CountLanes(_rows(flags, n))
    assert not lanes.packs
    lanes.add(["a", "b"])
    assert len(lanes.lanes) == 2
    end = np.array([n])
    got = Gathered(lanes, end)
    # the whole part's count of a flag true at every row: 2 ** 21, past a field
    assert got.count("a", None, np.array([0]))[0] == n
    assert got.count("b", None, np.array([0]))[0] == 0
