"""The one-pass replay's window aggregates (`sql.stage_windows`) computed with NumPy over the events
sorted by lead and time, instead of by DuckDB's window operator.

The operator costs about 200 ns per row and aggregate whatever the frame (RANGE or ROWS, bounded or
not), and the b2b example needs 40 aggregates: 8 of the 11 CPU s of the conditions of 20,000 leads x
50 events. Here each aggregate is a difference of prefix sums (or a prefix maximum) between the two
ends of each row's frame, found with one binary search per distinct frame length, a few ns per row.

Every value equals the window operator's: counts, the latest time and the sum of times are exact
integers (the sum of times, where it could pass a BIGINT, as a DECIMAL(32, 0) as exact as DuckDB's
HUGEINT sum); a
half-life's weights are summed over the row's epoch and the one before (`stage_windows`), each part
inside its epoch (from the epoch's first event, or back from its last): exactly, in fixed point (two
int64 lanes), and rounded once to a double (`math.fsum`'s value of the same weights) where a run's sum
stays under 2 ** 33, else as a running sum that rounds as a recursive sum of its own terms only, never
as a difference of larger float sums: either within the error bound the query carries for them (relative `n * 2 ** -53`
for n terms, well inside `_REL_PER_EVENT`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadscore.bulk.frame_counts import CountLanes, Gathered
from leadscore.bulk.frame_rows import INT64_MAX, Rows
from leadscore.sql.stage_windows import PEER_LAST
from leadscore.sql.window_compiler import Frame, T

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy as np
    import pyarrow as pa

    from leadscore.bulk.frame_scores import Column

# epoch sums in fixed point (`_Segments._fixed`): weights times 2 ** 52, each split into a high lane (the
# weight times 2 ** 20, whole) and a low lane (the 32 bits below it); a run's high sum stays below 2 ** 53
# (one double, exact) while its length times its largest weight stays under 2 ** 33
_SCALE = 2.0**52
_HIGH = 2.0**20
_LOW_BITS = 32
_FIXED_LIMIT = 2.0**33


def prefix(values: np.ndarray) -> np.ndarray:
    import numpy as np

    out = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(values, dtype=np.int64, out=out[1:])  # wraps past 2 ** 63: differences stay exact
    return out


def _scattered(at: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """`prefix` of the n values that are `values` at the rows `at` (sorted, distinct) and 0 elsewhere,
    without making those n values: the same sums (int64, wrapping past 2 ** 63 as `prefix` does)."""
    import numpy as np

    out = np.zeros(n + 1, dtype=np.int64)
    out[at + 1] = values
    np.cumsum(out, out=out)
    return out


def _join(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """(high * 2 ** 32 + low) / 2 ** 52 rounded once: the low lane's carry moved into the high lane, whose
    value (below 2 ** 53, `_FIXED_LIMIT`) is then an exact double, as is its product by 2 ** 32; the one
    addition of the last 32 bits rounds, the division by a power of two does not."""
    import numpy as np

    high = high + (low >> _LOW_BITS)
    low = low & ((1 << _LOW_BITS) - 1)
    out: np.ndarray = (high.astype(np.float64) * 2.0**_LOW_BITS + low.astype(np.float64)) / _SCALE
    return out


class _Segments:
    """Runs of rows of one lead in one epoch of `period`, for running sums inside each run: what is made
    per row once (the runs, each flag's prefix sums), gathered at the kept rows of each call (`At`)."""

    def __init__(self, rows: Rows, period: int) -> None:
        import numpy as np

        self.epoch = np.floor_divide(rows.ts, period)
        self.parity = self.epoch & 1
        self.n = rows.n
        self._sums: dict[str, tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]] = {}
        cut = rows.new.copy()
        cut[1:] |= self.epoch[1:] != self.epoch[:-1]
        starts = np.flatnonzero(cut)
        lens = np.diff(np.append(starts, rows.n))
        self.run = np.cumsum(cut) - 1
        self.longest = int(lens.max(initial=0))
        self.starts, self.ends = starts, np.append(starts[1:], rows.n)
        self._runs = (starts, lens)
        self._buckets: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        self._done: dict[tuple[str, bool], np.ndarray] = {}

    def at(self, out: np.ndarray, start: np.ndarray) -> _At:
        """The kept rows `out` with their frames' `start`: the epoch's parity, whether the frame starts
        in the epoch before the row's, the row's run's first row, and the end (exclusive) of the run of
        the frame's start."""
        import numpy as np

        own = self.epoch[out]
        first = np.minimum(start, self.n - 1)
        if self.n:
            return _At(
                own & 1, self.epoch[start] == own - 1, first, self.starts[self.run[out]], self.ends[self.run[first]]
            )
        return _At(own & 1, self.epoch[start] == own - 1, first, out, first)

    @property
    def buckets(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The runs padded to a common width by bucket of length (powers of 2): at most twice the rows
        (made only where a sum cannot be made in fixed point)."""
        import numpy as np

        if self._buckets is None:
            starts, lens = self._runs
            self._buckets = []
            width = np.maximum(1, np.ceil(np.log2(np.maximum(lens, 1))).astype(np.int64))
            for w in np.unique(width):
                sel = width == w
                s, ln = starts[sel], lens[sel]
                cols = np.arange(int(ln.max()))
                idx = s[:, None] + cols[None, :]
                mask = cols[None, :] < ln[:, None]
                self._buckets.append((np.where(mask, idx, 0), mask, idx[mask]))
        return self._buckets

    def sums(self, rows: Rows, f: Frame, at: _At, out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(whether a row has a term of the epoch sum, the terms' running sum at each kept row `out` from
        its run's first row, and from each kept row's frame start to its run's end)."""
        name = f.flag
        found = self._sums.get(name)
        if found is None:
            found = self._sums[name] = self._prefix(rows, f)
        valid, lanes, values = found
        if lanes is not None:
            high, low = lanes
            forward = _join(high[out + 1] - high[at.out_from], low[out + 1] - low[at.out_from])
            backward = _join(high[at.first_to] - high[at.first], low[at.first_to] - low[at.first])
            return valid, forward, backward
        assert values is not None
        return valid, self.running(name, values, False)[out], self.running(name, values, True)[at.first]

    def _prefix(
        self, rows: Rows, f: Frame
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None, np.ndarray | None]:
        """(the flag, its two fixed-point lanes' prefix sums, or its terms at every row where a run's
        sum may pass the lanes' limit)."""
        import numpy as np

        valid = rows.flag(f.weighted)
        at = np.flatnonzero(valid)
        terms = rows.weights_at(f, at)
        largest = float(terms.max(initial=0.0))
        if self.longest * largest < _FIXED_LIMIT:
            return valid, self._fixed(at, terms, rows.n), None
        values = np.zeros(rows.n)
        values[at] = terms
        return valid, None, values

    @staticmethod
    def _fixed(at: np.ndarray, terms: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The two lanes' prefix sums of the `terms` at the rows `at` (of `n`), exact: a weight is 1 or
        more (2 ** x, x >= 0), so 2 ** 52 times it is a whole number; split in two whole lanes (2 ** 20
        times the weight, whole, and the 32 bits of the fraction below it), each lane's prefix sums are
        exact in int64 and so are their differences, the sums of each run's weights; `sums` joins the
        lanes with one rounding to a double (`_join`), the value `math.fsum` gives (a recursive sum rounds
        at each term), in one pass over the rows instead of one per run. One lane of 2 ** 52 times the
        weight overflowed an int64 past a run's sum of 2 ** 11: on the b2b example (weights up to 8,
        300-430 rows in a lead's longest 90-day epoch) every sum took the running sums instead. The
        lanes are made at the flag's events only and scattered into the prefix sums (`_scattered`): the
        other rows add 0."""
        import numpy as np

        scaled = terms * _HIGH  # a power of two: exact
        whole = np.floor(scaled)
        # the fraction of a double of at least 2 ** 20 is exact, and a whole number of 2 ** -32
        high = _scattered(at, whole.astype(np.int64), n)
        low = _scattered(at, ((scaled - whole) * 2.0**_LOW_BITS).astype(np.int64), n)
        return high, low

    def running(self, name: str, values: np.ndarray, backward: bool) -> np.ndarray:
        """Each row's sum of `values` over its run up to it (or from it to the run's end), summed in
        order from the run's first (last) row: no difference of larger sums."""
        import numpy as np

        out = self._done.get((name, backward))
        if out is None:
            out = self._done[(name, backward)] = np.empty_like(values)
            for idx, mask, flat in self.buckets:
                m = np.where(mask, values[idx], 0.0)
                c = np.cumsum(m[:, ::-1], axis=1)[:, ::-1] if backward else np.cumsum(m, axis=1)
                out[flat] = c[mask]
        return out


class _At:
    """`_Segments.at`: the kept rows of one call in their epochs."""

    def __init__(
        self, own_parity: np.ndarray, before: np.ndarray, first: np.ndarray, out_from: np.ndarray, first_to: np.ndarray
    ) -> None:
        self.own_parity, self.before, self.first, self.out_from, self.first_to = (
            own_parity,
            before,
            first,
            out_from,
            first_to,
        )
        self._mine: dict[int, np.ndarray] = {}

    def mine(self, parity: int) -> np.ndarray:
        """Whether each kept row's epoch has the parity `parity` (made once per parity, for every sum)."""
        found = self._mine.get(parity)
        if found is None:
            found = self._mine[parity] = self.own_parity == parity
        return found


def aggregates(table: pa.Table, frames: dict[str, Frame], types: Mapping[str, Sequence[str]] | None = None) -> pa.Table:
    """The aggregates table `window_conditions_query(aggregates=)` reads, from the rows of its
    `rows_sql` (`types`: its `WindowQuery.types`)."""
    import numpy as np
    import pyarrow as pa

    rows, columns = arrays(Rows.of(table, types), frames)
    out = rows.out
    cols: dict[str, pa.Array] = {
        "lead_id": row_lead_ids(table, out),
        T: pa.array(rows.ts[out]),
        PEER_LAST: pa.array(np.ones(len(out), dtype=bool)),
    }
    for alias, col in columns.items():
        if isinstance(col, tuple):  # the counts as the window operator gives them: BIGINT
            values = col[0].astype(np.int64) if col[0].dtype == np.int32 else col[0]
            cols[alias] = pa.array(values, mask=col[1])
        else:
            cols[alias] = col
    return pa.table(cols)


def row_lead_ids(table: pa.Table, rows: np.ndarray) -> pa.Array:
    """The leads of those rows, as text (the rows' may be dictionary-encoded: `coded`)."""
    import pyarrow as pa

    ids = table.column("lead_id").combine_chunks().take(pa.array(rows))
    return ids.dictionary_decode() if pa.types.is_dictionary(ids.type) else ids


def coded(rows: pa.Table) -> pa.Table:
    """The rows with their lead ids dictionary-encoded: moving the rows moves numbers, not text."""
    import pyarrow.compute as pc

    k = rows.schema.get_field_index("lead_id")
    return rows.set_column(k, "lead_id", pc.dictionary_encode(rows.column(k).combine_chunks()))


def arrays(table: pa.Table | Rows, frames: dict[str, Frame], nulls: bool = True) -> tuple[Rows, dict[str, Column]]:
    """Each aggregate of `frames` at each kept row (`Rows.out`) of the sorted rows of `rows_sql`. Without
    `nulls`, an epoch sum over no event is 0.0 with no NULL mask (what `frame_scores` reads of it, as the
    SQL's coalesce does): its count is not made."""
    rows = table if isinstance(table, Rows) else Rows.of(table)
    return rows, Aggregates(rows, nulls).at(frames)


class Aggregates:
    """The aggregates of the sorted rows, at any of their kept rows: the prefix sums over every row (a
    frame's sums read every row's contribution) made once, each call (`at`) gathering them at the kept
    rows it asks for. So a part's conditions can be evaluated at a few of its rows at a time
    (`frame_reads`) for the cost of those rows, not of the whole part each time."""

    def __init__(self, rows: Rows, nulls: bool = True) -> None:
        import numpy as np

        self.rows, self.nulls = rows, nulls
        self._segments: dict[int, _Segments] = {}
        self._largest = int(np.abs(rows.ts).max()) if rows.n else 0
        # the flags' running counts, shared by their frames of every length (`frame_counts`)
        self._counts = CountLanes(rows)
        self._latest: dict[str, np.ndarray] = {}
        self._in_parity: dict[tuple[int, str, int], np.ndarray] = {}

    def at(
        self,
        frames: dict[str, Frame],
        sel: np.ndarray | None = None,
        starts: dict[int | None, np.ndarray] | None = None,
    ) -> dict[str, Column]:
        """Each aggregate of `frames` at the kept rows `sel` (positions in `Rows.out`; None: all).
        `starts`: the frames' starts at those rows by frame length, read where given and filled with the
        ones made here (a later call at some of the same rows gathers them: no binary search again)."""
        import numpy as np

        rows = self.rows
        out = rows.out if sel is None else rows.out[sel]
        end = out + 1
        cols: dict[str, Column] = {}
        starts = {} if starts is None else starts
        views: dict[int, _At] = {}
        # an epoch sum's flag: (its sum in the row's epoch, its part of the epoch before) at each kept row,
        # made once for both parities
        epochs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        # the flags' running counts gathered at the frames' ends and starts, once per lane and length
        self._counts.add([f.flag for f in frames.values() if f.kind != "epoch_sum"])
        gathered = Gathered(self._counts, end)
        for alias, f in frames.items():
            start = starts.get(f.micros)
            if start is None:
                start = starts[f.micros] = rows.start(f.micros, sel)
            if f.kind == "epoch_sum":
                assert f.micros is not None
                seg = self._segments.get(f.micros)
                if seg is None:
                    seg = self._segments[f.micros] = _Segments(rows, f.micros)
                view = views.get(f.micros)
                if view is None:
                    view = views[f.micros] = seg.at(out, start)
                found = epochs.get(f.flag)
                if found is None:
                    valid, forward, backward = seg.sums(rows, f, view, out)
                    # the row's own epoch: every event of it up to the row; the epoch before: from the frame's
                    # start (its part, 0.0 where the frame starts in the row's epoch)
                    found = epochs[f.flag] = (valid, forward, np.where(view.before, backward, 0.0))
                valid, forward, behind = found
                if not self.nulls:  # as they are: `frame_scores` reads the row's epoch and the one before
                    from leadscore.bulk.frame_scores import Epochs

                    cols[alias] = Epochs(forward, behind, view.own_parity, f.parity, (f.flag, f.micros))
                    continue
                value = np.where(view.mine(f.parity), forward, behind)
                if self.nulls:
                    key = (f.micros, f.weighted, f.parity)
                    in_parity = self._in_parity.get(key)
                    if in_parity is None:
                        in_parity = self._in_parity[key] = prefix(valid & (seg.parity == f.parity))
                    cols[alias] = (value, in_parity[end] - in_parity[start] == 0)
                else:  # the sum of no event's weight is 0.0: the weights are positive
                    cols[alias] = (value, None)
                continue
            if f.kind == "count":
                cols[alias] = (gathered.count(f.flag, f.micros, start), None)
            elif f.kind == "max_ts":
                latest_all = self._latest.get(f.flag)
                if latest_all is None:
                    flag = rows.flag(f.flag)
                    latest_all = self._latest[f.flag] = np.maximum.accumulate(np.where(flag, np.arange(rows.n), -1))
                latest = latest_all[out]
                cols[alias] = (rows.ts[np.maximum(latest, 0)], latest < start)
            elif f.kind == "sum_ts":
                n = gathered.count(f.flag, f.micros, start)
                flag = rows.flag(f.flag)
                largest = self._largest
                wide = bool(largest) and int(n.max(initial=0)) > INT64_MAX // largest
                if wide:
                    cols[alias] = sum_of_times(rows.ts, flag, start, end, n == 0, wide)
                else:
                    total = prefix(np.where(flag, rows.ts, 0))
                    cols[alias] = (total[end] - total[start], n == 0)
            else:
                raise AssertionError(f.kind)
        return cols


def sum_of_times(
    ts: np.ndarray, flag: np.ndarray, start: np.ndarray, end: np.ndarray, empty: np.ndarray, wide: bool
) -> pa.Array:
    """The sum of the flagged times in each frame [start, end): int64, or `wide` (it could pass a BIGINT)
    a DECIMAL(32, 0) from the sums of the times' high and low 32 bits, each exact in int64 (a frame
    has far fewer than 2 ** 31 rows); the SQL's n * t is a HUGEINT, the difference with it exact."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not wide:
        total = prefix(np.where(flag, ts, 0))
        return pa.array(total[end] - total[start], mask=empty)
    high, low = prefix(np.where(flag, ts >> 32, 0)), prefix(np.where(flag, ts & 0xFFFFFFFF, 0))
    high_sum = pa.array(high[end] - high[start]).cast(pa.decimal128(20, 0))
    low_sum = pa.array(low[end] - low[start]).cast(pa.decimal128(20, 0))
    exact = pc.add(pc.multiply(high_sum, pa.scalar(2**32, pa.decimal128(10, 0))), low_sum)
    return pc.if_else(pa.array(empty), pa.scalar(None, exact.type), exact)
