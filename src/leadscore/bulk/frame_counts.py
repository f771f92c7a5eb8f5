"""The flags' running counts of the sorted rows (`frame_rows.Rows`), several flags to one prefix sum.

A count frame is the difference of its flag's running count between the frame's end and its start.
Made one flag at a time, a running count is a `cumsum` over every row of a part (about 2 ns a row,
sequential), one per flag: 22 flags on the b2b example, 0.35 CPU s of a 100,000-lead part's 3.4 of
`frame_reads.values`. Here three flags share one int64 prefix sum, each in a field of 21 bits: a flag
counts at most one per row, so while a part has fewer than 2 ** 21 rows no field's running count (nor
any difference of two, end minus start, each field's share no lower at the end) reaches the field
above, and a frame's count is its field of the lane's difference: the same integers, a third of the
prefix sums and of their gathers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from leadscore.bulk.frame_rows import Rows

FIELD_BITS = 21  # a flag's field in a lane: its running count stays below 2 ** 21 in a part of fewer rows
PER_LANE = 3  # 63 bits: the top field stays below 2 ** 63, every lane value non-negative
_MASK = (1 << FIELD_BITS) - 1


def counts(flag: np.ndarray) -> np.ndarray:
    """The running count of a flag (0 before the first row), in int32 where it fits (every part but a
    lead of 2 ** 31 rows): half the memory of int64 for the count's prefix sum and its gathers at the
    frames' ends."""
    import numpy as np

    if len(flag) >= 2**31 - 1:
        out64 = np.zeros(len(flag) + 1, dtype=np.int64)
        np.cumsum(flag, dtype=np.int64, out=out64[1:])
        return out64
    out = np.zeros(len(flag) + 1, dtype=np.int32)
    np.cumsum(flag, dtype=np.int32, out=out[1:])
    return out


class CountLanes:
    """The running counts of the flags asked for (`add`), packed `PER_LANE` to a lane where the rows are
    few enough (one flag a lane, `counts`, otherwise)."""

    def __init__(self, rows: Rows) -> None:
        self.rows = rows
        self.lanes: list[np.ndarray] = []
        self.where: dict[str, tuple[int, int]] = {}  # flag -> (its lane, its field's shift)
        self.shared: list[bool] = []  # per lane: more than one flag in it (its fields must be masked)
        self.packs = rows.n < 2**FIELD_BITS

    def add(self, flags: list[str]) -> None:
        """Make the running counts of those of `flags` not made yet (in their order, `PER_LANE` a lane)."""
        import numpy as np

        new = list(dict.fromkeys(f for f in flags if f not in self.where))
        step = PER_LANE if self.packs else 1
        for i in range(0, len(new), step):
            group = new[i : i + step]
            lane = len(self.lanes)
            if len(group) == 1:
                self.lanes.append(counts(self.rows.flag(group[0])))
            else:
                terms = np.zeros(self.rows.n, dtype=np.int64)
                for j, name in enumerate(group):
                    terms |= self.rows.flag(name).astype(np.int64) << (FIELD_BITS * j)
                running = np.zeros(self.rows.n + 1, dtype=np.int64)
                np.cumsum(terms, out=running[1:])
                self.lanes.append(running)
            self.shared.append(len(group) > 1)
            for j, name in enumerate(group):
                self.where[name] = (lane, FIELD_BITS * j)


class Gathered:
    """One call's counts (`frame_windows.Aggregates.at`): each lane gathered at the frames' ends once,
    and at each frame length's starts once (`count`)."""

    def __init__(self, lanes: CountLanes, end: np.ndarray) -> None:
        self.lanes, self.end = lanes, end
        self._ends: dict[int, np.ndarray] = {}
        self._diffs: dict[tuple[int, int | None], np.ndarray] = {}

    def count(self, flag: str, micros: int | None, start: np.ndarray) -> np.ndarray:
        """The count of `flag` in each frame [start, end) (`start`: the frames of length `micros`)."""
        lane, shift = self.lanes.where[flag]
        running = self.lanes.lanes[lane]
        at_end = self._ends.get(lane)
        if at_end is None:
            at_end = self._ends[lane] = running[self.end]
        if not self.lanes.shared[lane]:  # (a new array each frame: the caller may keep it)
            alone: np.ndarray = at_end - running[start]
            return alone
        diff = self._diffs.get((lane, micros))
        if diff is None:
            diff = self._diffs[(lane, micros)] = at_end - running[start]
        found: np.ndarray = (diff >> shift) & _MASK
        return found
