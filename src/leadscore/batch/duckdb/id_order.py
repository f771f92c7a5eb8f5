"""Event ids that come in order: their repeats found by one streamed pass over the ids, without a sort.

Files written in id order hold ids that ascend in the order (length in bytes, then bytes): the fixed
width ids `leadscore generate` writes, UUIDs in text order, and counters without leading zeros
(`ev-9` before `ev-10`). A strictly ascending stretch repeats nothing. Events delivered again come
later in the input (another file): the ids after the first ascending stretch (the tail) are then few,
and only the rows whose id the tail holds can be a repeat, so the exact check reads those alone
(`duplicates.find_duplicates`). Ids in another order end the first stretch early and fill the tail
past its limit in the first rows: the pass stops there and the sorted hashes decide.

The reader's checks of the event ids (`file_checks.row_check_sql`, the id part: a text past the
length limit, a NUL character, an edge to strip) ride on this pass, in NumPy over the Arrow buffers:
in SQL the test of the last character alone cost 1.0 of the 3.1 CPU s of a scan of 50M ids; here the
whole check costs about 0.5. The test is on bytes: every row the SQL condition holds for, it holds
for (a last character outside ASCII ends in a byte outside it), so a row it flags is checked in full.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from leadscore.io.limits import MAX_ID_CHARS

if TYPE_CHECKING:
    import duckdb
    import numpy as np
    import pyarrow as pa

_BATCH = 1 << 20


@dataclass(frozen=True)
class OrderedIds:
    with_id: int  # events with an id
    tail: pa.Array  # the distinct ids after the first strictly ascending stretch (none: all distinct)


def _buffers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a NULL-free text array: value k is bytes[offsets[k]:offsets[k + 1]]."""
    import numpy as np
    import pyarrow as pa

    if pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type):
        width: type[np.signedinteger] = np.int64
    elif pa.types.is_string(column.type) or pa.types.is_binary(column.type):
        width = np.int32
    else:  # a view type: converted to offsets
        column, width = column.cast(pa.large_string()), np.int64
    buffers = column.buffers()
    offsets = np.frombuffer(buffers[1], width)[column.offset : column.offset + len(column) + 1]
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def flagged(offsets: np.ndarray, data: np.ndarray) -> bool:
    """Whether some id may be one the reader refuses or strips: longer than the limit in bytes, with a
    NUL, or a first or last byte that is no printable ASCII character (`file_checks.edge_sql`: a
    control character, a space, or a character outside ASCII). Empty ids are NULL in the views."""
    import numpy as np

    lengths = np.diff(offsets)
    if len(lengths) and int(lengths.max()) > MAX_ID_CHARS:
        return True
    if not data[offsets[0] : offsets[-1]].all():  # a NUL byte
        return True
    filled = lengths > 0
    first = data[offsets[:-1][filled]]
    last = data[offsets[1:][filled] - 1]
    return bool(((first < 0x21) | (first > 0x7E) | (last < 0x21) | (last > 0x7E)).any())


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
    greater = pc.greater(column[1:], column[:-1]).to_numpy(zero_copy_only=False)
    up = (lengths[1:] > lengths[:-1]) | ((lengths[1:] == lengths[:-1]) & greater)
    if up.all():
        return len(column)
    return int(np.argmin(up)) + 1


def ordered_ids(
    con: duckdb.DuckDBPyConnection, tail_limit: int, check: Callable[[], None] | None = None
) -> OrderedIds | None:
    """One pass over the ids of the `events` view: the ids after the first strictly ascending stretch,
    or None once they pass `tail_limit` (ids in another order: the pass stops there). With `check`, it
    is called (once) when an id is `flagged`: it refuses the input or has the views strip (it raises),
    else the ids are as the reader takes them and the pass starts again without the test (the query
    must be closed before the check runs its own)."""
    found = _pass(con, tail_limit, check is not None)
    if found == "flagged":
        assert check is not None
        check()
        found = _pass(con, tail_limit, False)
    assert found != "flagged"
    return found


def _pass(con: duckdb.DuckDBPyConnection, tail_limit: int, test: bool) -> OrderedIds | Literal["flagged"] | None:
    import pyarrow as pa

    with_id = 0
    previous: bytes | None = None
    tail: list[pa.Array] = []
    tail_rows = 0
    in_stretch = True
    reader = con.sql("SELECT id FROM events").to_arrow_reader(_BATCH)
    try:
        for batch in reader:
            column = batch.column(0)
            if column.null_count:
                column = column.drop_null()
            if not len(column):
                continue
            with_id += len(column)
            offsets, data = _buffers(column)
            if test and flagged(offsets, data):
                return "flagged"
            if in_stretch:
                kept = _stretch(column, offsets, previous)
                if kept == len(column):
                    previous = data[offsets[-2] : offsets[-1]].tobytes()
                    continue
                in_stretch = False
                column = column[kept:]
            tail.append(column)
            tail_rows += len(column)
            if tail_rows > tail_limit:
                return None
    finally:
        reader.close()
    if not tail:
        return OrderedIds(with_id, pa.array([], pa.string()))
    import pyarrow.compute as pc

    return OrderedIds(with_id, pc.unique(pa.concat_arrays([t.cast(pa.string()) for t in tail])))
