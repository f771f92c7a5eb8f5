"""Event ids that come in order: their repeats found by one streamed pass over the ids, without a sort.

Files written in id order hold ids that ascend in the order (length in bytes, then bytes): the fixed
width ids `leadscore generate` writes, UUIDs in text order, and counters without leading zeros
(`ev-9` before `ev-10`). The ids above every id before them ascend strictly and repeat nothing
(`_above`). Events delivered again come later in the input (another file), ids from a small pool are
few: the other ids (the tail) are then few, and only the rows whose id the tail holds can be a
repeat, so the exact check reads those alone (`duplicates.find_duplicates`). Ids in another order
fill the tail past its limit in the first rows: the pass stops there and the sorted hashes decide.

The reader's checks of the event ids (`file_checks.row_check_sql`, the id part: a text past the
length limit, a NUL character, an edge to strip) ride on this pass, in NumPy over the Arrow buffers:
in SQL the test of the last character alone cost 1.0 of the 3.1 CPU s of a scan of 50M ids; here the
whole check costs about 0.5. The test is on bytes: every row the SQL condition holds for, it holds
for (a last character outside ASCII ends in a byte outside it), so a row it flags is checked in full.

When the events view reads the ids of Parquet files as stored (`id_files.py`), the pass reads them
from the files itself: DuckDB handing 50M ids over as Arrow cost 1.7-2.1 CPU s, the Parquet reader
1.2-1.3. The tests of a batch are a few whole-array operations (no gather where the ids have one
width, no Boolean array unpacked unless the stretch ends in it): 0.5 CPU s per 50M ids, from 0.8-1.6.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import closing
from dataclasses import dataclass
from threading import Event
from typing import TYPE_CHECKING, Literal

from leadscore.batch.duckdb.arrays import arrow_bools, arrow_int64, filled, numpy_bools
from leadscore.batch.duckdb.id_late import buffers as _buffers
from leadscore.io.limits import MAX_ID_CHARS

if TYPE_CHECKING:
    import duckdb
    import numpy as np
    import pyarrow as pa

    from leadscore.batch.duckdb.id_late import Around, LateIds

_BATCH = 1 << 20


@dataclass(frozen=True)
class OrderedIds:
    with_id: int  # events with an id
    tail: pa.Array  # the distinct ids after the first strictly ascending stretch (none: all distinct)
    # the `_ls_ord` of every row holding a tail id, when the pass could find them all (`id_late.py`)
    rows: pa.Table | None = None
    # else, where it found all but the copies of some tail ids, which it tells where to look for
    around: Around | None = None


def flagged(offsets: np.ndarray, data: np.ndarray) -> bool:
    """Whether some id may be one the reader refuses or strips: longer than the limit in bytes, with a
    NUL, or a first or last byte that is no printable ASCII character (`file_checks.edge_sql`: a
    control character, a space, or a character outside ASCII). Empty ids are NULL in the views."""
    import numpy as np

    lengths = np.diff(offsets)
    if not len(lengths):
        return False
    shortest, longest = int(lengths.min()), int(lengths.max())
    if longest > MAX_ID_CHARS:
        return True
    body = data[offsets[0] : offsets[-1]]
    if len(body) and not int(body.min()):  # a NUL byte
        return True
    if shortest == longest and shortest:  # one width: the first and last bytes are two strided columns
        rows = body.reshape(-1, shortest)
        first, last = rows[:, 0], rows[:, -1]
    else:
        starts, ends = offsets[:-1], offsets[1:]
        if not shortest:
            filled = lengths > 0
            starts, ends = starts[filled], ends[filled]
        first, last = data[starts], data[ends - 1]
    # printable ASCII is 0x21..0x7E: shifted down by 0x21 (wrapping in 8 bits), at most 0x5D
    return bool(len(first)) and max(int((first - np.uint8(0x21)).max()), int((last - np.uint8(0x21)).max())) > 0x5D


def _stretch(column: pa.Array, offsets: np.ndarray, previous: bytes | None) -> int:
    """How many of the leading ids of `column` continue a strictly ascending stretch (length in bytes,
    then bytes) after `previous` (the stretch's last id so far; None: the stretch starts here)."""
    import numpy as np
    import pyarrow.compute as pc

    lengths = np.diff(offsets)
    if previous is not None:
        first = column[0].as_buffer().to_pybytes() if len(column) else b""
        if not (len(previous), previous) < (len(first), first):
            return 0
    if len(column) < 2:
        return len(column)
    greater = pc.greater(column[1:], column[:-1])
    if int(lengths.min()) == int(lengths.max()):
        # one width (the fixed-width ids files written in id order hold): ascending where the text rises,
        # without the lengths' differences and their tests (0.34 -> 0.15 CPU s per 50M ids)
        if pc.all(greater).as_py():
            return len(column)
        return int(np.argmin(numpy_bools(greater))) + 1
    grows = np.diff(lengths)
    if int(grows.min()) >= 0:  # lengths never fall: ascending where the text rises or the length grows
        rising = greater if not grows.any() else pc.or_(greater, arrow_bools(grows > 0))
        if pc.all(rising).as_py():
            return len(column)
    up = (grows > 0) | ((grows == 0) & numpy_bools(greater))
    return int(np.argmin(up)) + 1


def _key(offsets: np.ndarray, data: np.ndarray, k: int) -> tuple[int, bytes]:
    """The order's key of id `k`: (length in bytes, bytes)."""
    raw = data[offsets[k] : offsets[k + 1]].tobytes()
    return len(raw), raw


# the passes `_above` makes over the ids right after dropped ones before it compares runs in Python
DIPS = 4


def _rises(column: pa.Array, offsets: np.ndarray, rows: np.ndarray | None, before: np.ndarray | None) -> np.ndarray:
    """Whether each id of `rows` (positions in `column`) is above the id at the same place of `before`
    (length in bytes, then bytes); `rows` and `before` None: each id but the first against the one
    before it, by slices (no gather, no index arrays: 7.0 -> 3.5 ms per million ids)."""
    import numpy as np
    import pyarrow.compute as pc

    if rows is None or before is None:
        grows = np.diff(np.diff(offsets))
        greater = pc.greater(column[1:], column[:-1])
    else:
        lengths = offsets[1:] - offsets[:-1]
        grows = lengths[rows] - lengths[before]
        greater = pc.greater(column.take(arrow_int64(rows)), column.take(arrow_int64(before)))
    return (grows > 0) | ((grows == 0) & numpy_bools(greater))


def _above(column: pa.Array, offsets: np.ndarray, previous: bytes | None, limit: int) -> np.ndarray | int | None:
    """Which ids of `column` are above every id before them (length in bytes, then bytes), `previous`
    the highest so far (None: none yet): a mask, None when all are (the ids ascend strictly), or
    the count of the others once it passes `limit` (ids in no order: not worth finding them all).

    Those ids ascend strictly, so they repeat nothing; each of the others is no higher than an earlier
    id, so the second copy of any repeat is among them (the tail). Ids that mostly ascend with a few
    out of place (an id from a small pool, a row sent again) keep the ascending ones out of the tail,
    where the first stretch ended at the first such id and left every id after it to the sorted hashes
    (the third data set: 0.3 % of the ids from a pool of 1,000).

    An id no higher than the one before it is in the tail, and dropping it changes no highest id so
    far: such ids are dropped, then the ids right after dropped ones are compared with the id kept
    before them (a gather of those few), a few times over; what is left splits into ascending runs,
    compared in Python by their ends, a run that straddles the highest id so far cut by a binary
    search."""
    import numpy as np

    count = len(column)
    if not count:
        return None
    high = (len(previous), previous) if previous is not None else None
    data = _buffers(column)[1]
    first_up = high is None or _key(offsets, data, 0) > high
    dropped = np.zeros(count, dtype=bool)
    if count > 1:
        dropped[1:] = ~_rises(column, offsets, None, None)
    if first_up and not dropped.any():
        return None
    starts = np.zeros(0, np.int64)  # kept ids whose kept predecessor is no lower: runs start there
    for round_ in range(DIPS + 1):
        if int(dropped.sum()) > limit:
            return int(dropped.sum())
        after = np.flatnonzero(~dropped[1:] & dropped[:-1]) + 1  # kept, right after a dropped id
        kept = np.flatnonzero(~dropped)
        at = np.searchsorted(kept, after) - 1
        after, at = after[at >= 0], at[at >= 0]  # an id with no kept one before it: compared to `high`
        if not len(after):
            break
        lower = ~_rises(column, offsets, after, kept[at])
        if round_ == DIPS:
            starts = after[lower]
            break
        if not lower.any():
            break
        dropped[after[lower]] = True
    kept = np.flatnonzero(~dropped)
    keep = np.zeros(count, dtype=bool)
    if not len(kept):
        return keep
    # runs of kept ids that ascend: from the first, and from each id no higher than its kept predecessor
    bounds = np.searchsorted(kept, starts).tolist()
    for lo_at, hi_at in zip([0, *bounds], [*bounds, len(kept)], strict=True):
        if hi_at <= lo_at:
            continue
        last = _key(offsets, data, int(kept[hi_at - 1]))
        if high is not None and last <= high:
            continue  # the whole run is no higher than an earlier id
        lo = lo_at
        if high is not None and _key(offsets, data, int(kept[lo_at])) <= high:
            lo, hi = lo_at + 1, hi_at - 1  # the first id above `high` is in lo..hi: the run ascends
            while lo < hi:
                mid = (lo + hi) // 2
                if _key(offsets, data, int(kept[mid])) > high:
                    hi = mid
                else:
                    lo = mid + 1
        keep[kept[lo:hi_at]] = True
        high = last
    return keep


def ordered_ids(
    con: duckdb.DuckDBPyConnection,
    tail_limit: int,
    check: Callable[[], None] | None = None,
    files: list[str] | None = None,
    first: Passed | Literal["not run"] = "not run",
) -> OrderedIds | None:
    """One pass over the ids of the `events` view: the ids after the first strictly ascending stretch,
    or None once they pass `tail_limit` (ids in another order: the pass stops there). With `check`, it
    is called (once) when an id is `flagged`: it refuses the input or has the views strip (it raises),
    else the ids are as the reader takes them and the pass starts again without the test (the query
    must be closed before the check runs its own). `files`: the view's Parquet files, when it reads
    their ids as stored; the pass then reads them itself where it can (`id_files.py`). `first`: what
    `files_pass` gave for these arguments, run ahead on a thread (`id_ahead.py`), instead of that pass."""
    from leadscore.batch.duckdb import id_files

    direct = files if files is not None and id_files.readable(files) else None
    found: OrderedIds | Literal["flagged"] | None
    if direct is not None and (first is None or first == "flagged" or isinstance(first, OrderedIds)):
        found = first
    else:
        found = _either_pass(con, tail_limit, check is not None, direct, late=True)
    if found == "flagged":
        assert check is not None
        check()
        found = _either_pass(con, tail_limit, False, direct, late=True)
    assert found != "flagged"
    return found


# what `files_pass` gives: the pass's answer, or "failed" where the Parquet reader could not give the ids
# as DuckDB does (the pass must then read the view's, `_either_pass`)
Passed = OrderedIds | Literal["flagged", "failed"] | None


def files_pass(files: list[str], tail_limit: int, test: bool, stop: Event | None = None, late: bool = False) -> Passed:
    """`_pass` over the ids of the files themselves, with no use of a DuckDB connection (it may run on a
    thread while the connection runs a query). Once `stop` is set, it ends at the next batch (None).
    `late`: the rows of the tail's ids looked for on the way (`id_late.py`)."""
    import pyarrow as pa

    try:
        return _pass(None, tail_limit, test, files, stop, late)
    except (pa.ArrowException, OSError):
        return "failed"


def _either_pass(
    con: duckdb.DuckDBPyConnection, tail_limit: int, test: bool, files: list[str] | None, late: bool = False
) -> OrderedIds | Literal["flagged"] | None:
    """The pass over the files' ids, or over the view's where the Parquet reader cannot give them as
    DuckDB does (a file it fails on, text that is not UTF-8): DuckDB then reads or refuses them, as
    it did before the files were read directly."""
    import pyarrow as pa

    if files is None:
        return _pass(con, tail_limit, test)
    try:
        return _pass(con, tail_limit, test, files, late=late)
    except (pa.ArrowException, OSError):
        return _pass(con, tail_limit, test)


def _batches(
    con: duckdb.DuckDBPyConnection | None, files: list[str] | None
) -> Generator[tuple[int | None, pa.Array], None, None]:
    """The ids in input order, a batch at a time, with the `_ls_ord` of the batch's first row where
    known (NULLs kept): from the files, or the view's query (no order known)."""
    if files is not None:
        from leadscore.batch.duckdb.id_files import read_id_rows

        yield from read_id_rows(files, _BATCH)
        return
    assert con is not None
    reader = con.sql("SELECT id FROM events").to_arrow_reader(_BATCH)
    try:
        for batch in reader:
            yield None, batch.column(0)
    finally:
        reader.close()


def _pass(
    con: duckdb.DuckDBPyConnection | None,
    tail_limit: int,
    test: bool,
    files: list[str] | None = None,
    stop: Event | None = None,
    late: bool = False,
) -> OrderedIds | Literal["flagged"] | None:
    found: LateIds | None = None
    if late and files is not None:
        from leadscore.batch.duckdb.id_files import LeadReads
        from leadscore.batch.duckdb.id_late import LateIds

        found = LateIds(late_tail(files, tail_limit), LeadReads(files))
        found.missing_limit = tail_limit
    try:
        return _stream(con, tail_limit, test, files, stop, found)
    finally:
        if found is not None:
            found.close()


def late_tail(files: list[str], tail_limit: int) -> pa.Array:
    """The ids the pass looks up in its stretch (`id_late.py`): those of the last row groups
    (`id_files.late_ids`), or, where the ids ascend from the group before them into these and then
    break, only the ids from the break on (NULL and empty ids left out, as the pass leaves them): the
    tail, if the stretch holds up to there. On the mixed set, 50,054 ids instead of 384,934 (the groups
    before the file sent again continue the order: their rows were all looked up and recorded, their
    lead ids read and taken), the pass 3.86-3.94 CPU s against 4.22-4.46."""
    from leadscore.batch.duckdb.id_files import late_and_before

    ids, before = late_and_before(files, tail_limit)
    ids = ids.filter(filled(ids)) if len(ids) else ids
    before = before.filter(filled(before)) if len(before) else before
    if not len(ids) or not len(before):
        return ids
    kept = _stretch(ids, _buffers(ids)[0], before[-1].as_buffer().to_pybytes())
    return ids.slice(kept) if kept < len(ids) else ids


def _kept(column: pa.Array, keep: np.ndarray) -> pa.Array:
    """The values of a text array where `keep` holds, NULLs and empty ids among those left out: where every
    value left out holds no byte (an empty id; a NULL as Parquet readers leave it), the kept values' bytes
    are already in order in the array's data, and only their offsets are gathered (no copy of the bytes:
    `drop_null` took 0.17 CPU s per 10M ids of the third data set, the gather 0.02-0.03); else a filter."""
    import numpy as np
    import pyarrow as pa

    typ = column.type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        return column.filter(arrow_bools(keep))
    offsets, _ = _buffers(column)
    kept = np.flatnonzero(keep)
    if not len(kept) or (len(kept) < len(keep) and np.diff(offsets)[~keep].any()):
        return column.filter(arrow_bools(keep))
    gathered = np.empty(len(kept) + 1, offsets.dtype)
    gathered[:-1] = offsets[kept]
    gathered[-1] = offsets[kept[-1] + 1]
    data = column.buffers()[2] or pa.py_buffer(b"")
    return pa.Array.from_buffers(typ, len(kept), [None, pa.py_buffer(gathered), data])


def _stream(
    con: duckdb.DuckDBPyConnection | None,
    tail_limit: int,
    test: bool,
    files: list[str] | None,
    stop: Event | None,
    found: LateIds | None,
) -> OrderedIds | Literal["flagged"] | None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    with_id = 0
    previous: bytes | None = None
    tail: list[pa.Array] = []
    tail_rows = 0
    with closing(_batches(con, files)) as batches:
        for base, column in batches:
            if stop is not None and stop.is_set():
                return None
            # the rows kept, by their place in the batch (only where their `_ls_ord` is needed)
            track = found is not None and base is not None
            rows = len(column)
            index: np.ndarray | None = None
            if column.null_count:
                valid = numpy_bools(column.is_valid())
                if track:
                    index = np.flatnonzero(valid)
                column = _kept(column, valid)
            if not len(column):
                if found is not None and base is not None:
                    found.gone(base, rows, None)
                continue
            offsets, data = _buffers(column)
            if not int(np.diff(offsets).min()):  # an empty id is missing (`nullif(id, '')` in the view)
                nonempty = numpy_bools(filled(column))
                if track:
                    kept_rows = np.flatnonzero(nonempty)
                    index = kept_rows if index is None else index[kept_rows]
                column = _kept(column, nonempty)
                if not len(column):
                    if found is not None and base is not None:
                        found.gone(base, rows, None)
                    continue
                offsets, data = _buffers(column)
            if found is not None and base is not None and index is not None:
                found.gone(base, rows, index)
            if files is not None and len(data) and int(data.max()) >= 0x80:
                column.validate(full=True)  # raises on text that is not UTF-8, which DuckDB refuses
            with_id += len(column)
            if test and flagged(offsets, data):
                return "flagged"
            ords = None
            if track:
                assert base is not None
                ords = base + (index if index is not None else np.arange(len(column), dtype=np.int64))
            keep = _above(column, offsets, previous, tail_limit - tail_rows)
            if isinstance(keep, int):
                return None  # past the limit: ids in another order, the hashes decide
            stretch = column if keep is None else column.filter(arrow_bools(keep))
            if len(stretch):
                if found is not None and ords is not None:
                    above = ords if keep is None else ords[keep]
                    found.look(stretch, *_buffers(stretch), len(stretch), above)
                last = _buffers(stretch)
                previous = last[1][last[0][-2] : last[0][-1]].tobytes()
                if found is not None and base is not None:
                    found.span(last[1][last[0][0] : last[0][1]].tobytes(), previous, base, base + rows - 1)
            if keep is None:
                continue
            column = column.filter(arrow_bools(~keep))
            ords = ords[~keep] if ords is not None else None
            if found is not None and ords is not None:
                found.tail(column, ords)
            tail.append(column)
            tail_rows += len(column)
            if tail_rows > tail_limit:
                return None
    if not tail:
        return OrderedIds(with_id, pa.nulls(0, pa.string()))
    distinct = pc.unique(pa.concat_arrays([t.cast(pa.string()) for t in tail]))
    if found is None or files is None:
        return OrderedIds(with_id, distinct)
    placed = found.rows(distinct)
    return OrderedIds(with_id, distinct, placed, found.around(distinct) if placed is None else None)
