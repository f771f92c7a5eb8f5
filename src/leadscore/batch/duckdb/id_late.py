"""The ids of the input's last rows, looked up in the ascending stretch as the ordered pass reads it.

After the ordered pass (`id_order.py`) the ids of its tail are the only ones that can repeat, and the
exact check must find every row holding one of them. Done in SQL, that is one more scan of the events
with a semi-join on 50M ids (3.6 CPU s on the mixed set, more than the pass itself). But events delivered
again lie at the end of the input (a later file, rows appended), so the pass can know the likely tail
before it starts: the ids of the last row groups (`id_files.late_ids`, at most the tail's limit of
rows), from where they break the order of the group before them when they do (`id_order.late_tail`:
the file sent again, not the rows before it that continue the order). Each batch of the stretch
ascends in (length in bytes, then bytes): its ids of one length are a sorted run of fixed-width
byte strings, and a NumPy binary search of the late ids in it finds their rows at no measurable cost.
When the tail turns out to hold only late ids, the rows of its ids are known by their input order
(`_ls_ord`) alone: the stretch's matches and the tail's own rows. Otherwise
(the stretch ended earlier, in rows the guess did not read) the check in SQL decides, as before.

Every row holding a tail id is found: the stretch holds each id at most once (it ascends strictly),
and the search finds it there when the id is a late one; the tail's rows are all recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from leadscore.batch.duckdb.arrays import arrow_int64, filled, numpy_bools

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from leadscore.batch.duckdb.id_files import LeadReads


def buffers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a NULL-free text array: value k is bytes[offsets[k]:offsets[k + 1]]."""
    import numpy as np
    import pyarrow as pa

    if pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type):
        width: type[np.signedinteger] = np.int64
    elif pa.types.is_string(column.type) or pa.types.is_binary(column.type):
        width = np.int32
    else:  # a view type: converted to offsets
        column, width = column.cast(pa.large_string()), np.int64
    bufs = column.buffers()
    offsets = np.frombuffer(bufs[1], width)[column.offset : column.offset + len(column) + 1]
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


@dataclass(frozen=True)
class Around:
    """`LateIds.around`: what the duplicate check needs to read the rows of the tail's ids and the
    events without id by their input order alone (`duplicates.find_duplicates`)."""

    rows: pa.Table  # (_ls_ord, id): the rows recorded that hold a tail id
    strays: pa.Array  # the tail ids no late one: their copy in the stretch was not looked for
    spans: list[tuple[int, int]]  # (first, last) input orders of the batches that may hold those copies
    missing: np.ndarray  # the input orders of the events without id


class LateIds:
    """The late ids by width, each a sorted array of fixed-width byte strings, and the rows found."""

    def __init__(self, ids: pa.Array, leads: LeadReads | None = None) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        ids = ids.filter(filled(ids)) if len(ids) else ids
        self.values = pc.unique(ids.cast(pa.string()))
        offsets, data = buffers(self.values)
        lengths = np.diff(offsets)
        body = data[offsets[0] : offsets[-1]] if len(self.values) else data[:0]
        # NumPy's byte strings ignore trailing NUL bytes: ids holding one are left to the check in SQL
        self.usable = bool(len(self.values)) and bool(body.min())
        self.by_width: dict[int, np.ndarray] = {}
        if self.usable:
            starts = offsets[:-1]
            for width in np.unique(lengths).tolist():
                rows = starts[lengths == width]
                gathered = data[rows[:, None] + np.arange(width)].reshape(-1)
                self.by_width[width] = np.sort(gathered.view(f"S{width}"))
        self._ords: list[np.ndarray] = []
        self._ids: list[pa.Array] = []
        self.leads = leads  # the lead ids of the rows recorded, read meanwhile (None: read in SQL)
        # each batch's stretch: its first and last id as keys (length in bytes, then bytes) and the input
        # orders the batch spans, where a tail id no late one may be looked for after the pass (`around`)
        self._spans: list[tuple[tuple[int, bytes], tuple[int, bytes], int, int]] = []
        # the input orders of the events without id (NULL, or empty: missing in the view); None past
        # `missing_limit` of them
        self._missing: list[np.ndarray] | None = []
        self._missing_count = 0
        self.missing_limit = 0

    def look(self, column: pa.Array, offsets: np.ndarray, data: np.ndarray, count: int, ords: np.ndarray) -> None:
        """Record the rows among the first `count` ids of `column` (a stretch: ascending in length, then
        bytes; `offsets` and `data` its buffers) whose id is a late one; `ords`: their `_ls_ord`."""
        import numpy as np

        if not count or not self.usable:
            return
        lengths = np.diff(offsets[: count + 1])  # never falls within a stretch
        found: list[np.ndarray] = []
        for width, wanted in self.by_width.items():
            lo, hi = (int(x) for x in np.searchsorted(lengths, [width, width + 1]))
            if hi <= lo:
                continue
            run = data[offsets[lo] : offsets[hi]].view(f"S{width}")
            # the late ids within the run's range, then each one's place in the run
            a = int(np.searchsorted(wanted, run[0], side="left"))
            b = int(np.searchsorted(wanted, run[-1], side="right"))
            if b <= a:
                continue
            asked = wanted[a:b]
            at = np.searchsorted(run, asked)
            at = at[run[np.minimum(at, len(run) - 1)] == asked]
            found.append(lo + at)
        if found:
            rows = np.sort(np.concatenate(found))
            self.record(column.take(arrow_int64(rows)), ords[rows])

    def record(self, ids: pa.Array, ords: np.ndarray) -> None:
        """Rows that hold a candidate id (the tail's own rows, or matches in the stretch)."""
        if len(ids):
            self._ids.append(ids)
            self._ords.append(ords)
            if self.leads is not None:
                self.leads.submit(ords)

    def tail(self, ids: pa.Array, ords: np.ndarray) -> None:
        """Rows of the tail: recorded. Once one holds an id that is no late one (a pool's id out of
        order, not a row sent again), the rows of the tail's ids cannot all be known on the pass's way
        (`rows` would give None, `around` says where the rest may be), so the lead ids stop being read
        (1.1 of the pass's 2.2 CPU s on the third data set's 10M events, every row group read), and
        the test stops too (a hash set of the late ids per batch: 0.19 CPU s there)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        late = self.usable and self.leads is not None and len(ids)
        if late and not pc.all(pc.is_in(ids.cast(pa.string()), value_set=self.values)).as_py():
            self.close()
            self.leads = None
        if self.usable:
            self.record(ids, ords)

    def span(self, first: bytes, last: bytes, low: int, high: int) -> None:
        """A batch's stretch, from id `first` to id `last`, in a batch of input orders `low`..`high`."""
        self._spans.append(((len(first), first), (len(last), last), low, high))

    def gone(self, base: int, count: int, kept: np.ndarray | None) -> None:
        """A batch of `count` rows from input order `base`, of which those at `kept` have an id (None:
        none has)."""
        import numpy as np

        if self._missing is None:
            return
        if kept is None:
            rows = np.arange(count, dtype=np.int64)
        else:
            mask = np.ones(count, dtype=bool)
            mask[kept] = False
            rows = np.flatnonzero(mask)
        self._missing_count += len(rows)
        if self._missing_count > self.missing_limit:
            self._missing = None
        elif len(rows):
            self._missing.append(base + rows)

    def around(self, tail: pa.Array) -> Around | None:
        """Where the rows holding a tail id are when some tail id is no late one (`rows` is None): the
        rows recorded that hold one, the tail ids no late one (`strays`), the input orders of the batches
        whose stretch may hold one of them (at most one batch each: the stretch ascends strictly over
        the whole input, so the batches' ranges of ids do not overlap), and the input orders of the
        events without id. None when the late ids were not usable or those events were too many."""
        import bisect

        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not self.usable or self._missing is None:
            return None
        strays = tail.filter(pc.invert(pc.is_in(tail, value_set=self.values)))
        firsts = [s[0] for s in self._spans]
        spans: set[tuple[int, int]] = set()
        for value in strays.to_pylist():
            raw = value.encode()
            key = (len(raw), raw)
            at = bisect.bisect_right(firsts, key) - 1
            if at >= 0 and key <= self._spans[at][1]:
                spans.add((self._spans[at][2], self._spans[at][3]))
        if self._ids:
            ids = pa.concat_arrays([i.cast(pa.string()) for i in self._ids])
            wanted = pc.is_in(ids, value_set=tail)
            rows = pa.table(
                {"_ls_ord": arrow_int64(np.concatenate(self._ords)[numpy_bools(wanted)]), "id": ids.filter(wanted)}
            )
        else:
            rows = pa.table({"_ls_ord": pa.nulls(0, pa.int64()), "id": pa.nulls(0, pa.string())})
        missing = np.concatenate(self._missing) if self._missing else np.zeros(0, np.int64)
        return Around(rows, strays, sorted(spans), missing)

    def rows(self, tail: pa.Array) -> pa.Table | None:
        """(`_ls_ord`, id) of every row holding an id of `tail` (the pass's distinct tail ids), or None
        when some tail id is no late one (its copy in the stretch may not have been looked for)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        leads = self.leads.result() if self.leads is not None else None
        if not self.usable or not pc.all(pc.is_in(tail, value_set=self.values)).as_py():
            return None
        if not self._ids:
            return pa.table({"_ls_ord": pa.nulls(0, pa.int64()), "id": pa.nulls(0, pa.string())})
        ids = pa.concat_arrays([i.cast(pa.string()) for i in self._ids])
        wanted = pc.is_in(ids, value_set=tail)
        ords = np.concatenate(self._ords)[numpy_bools(wanted)]
        found = {"_ls_ord": arrow_int64(ords), "id": ids.filter(wanted)}
        if leads is not None:  # as the events view reads them (`id_files.LeadReads`)
            found["lead_id"] = leads.filter(wanted)
        return pa.table(found)

    def close(self) -> None:
        """The pass ended (or stopped): the lead ids' thread may end."""
        if self.leads is not None:
            self.leads.close()
