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
        """Rows of the tail: recorded, unless one holds an id that is no late one (a pool's id out of
        order, not a row sent again): the rows of the tail's ids cannot then all be known here
        (`rows` would give None), so nothing more is recorded and the lead ids stop being read
        (1.1 of the pass's 2.2 CPU s on the third data set's 10M events, every row group read)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.usable and len(ids) and not pc.all(pc.is_in(ids.cast(pa.string()), value_set=self.values)).as_py():
            self.usable = False
            self.close()
            self.leads = None
        if self.usable:
            self.record(ids, ords)

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
