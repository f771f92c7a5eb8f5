"""The replay's rows as NumPy arrays (`frame_windows` computes the window aggregates over them): each
row's lead as a number, its time and its flags, sorted by lead and time (`Rows`), and the rows of a
whole part packed once so that any subset of its leads is a gather of a few arrays (`Packed`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadscore.sql.condition_sql import TS

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import numpy as np
    import pyarrow as pa

    from leadscore.sql.window_compiler import Frame

INT64_MAX = 2**63 - 1


class Rows:
    """The sorted rows and, per row that stands for its instant (the last of its peers), its frame's end."""

    def __init__(self, lead: np.ndarray, ts: np.ndarray, flag: Callable[[str], np.ndarray]) -> None:
        """`lead`: each row's lead as a number (equal for the rows of one lead, which are together), `ts`
        its time, `flag` each flag column by name (FALSE where NULL)."""
        import numpy as np

        self._flag = flag
        self.lead = lead
        n = self.n = len(ts)
        self.ts = ts
        new = np.ones(n, dtype=bool)
        if n > 1:
            np.not_equal(lead[1:], lead[:-1], out=new[1:])
        self.new = new
        self.g = np.cumsum(new) - 1  # the lead's number
        self.lead_start = np.flatnonzero(new)
        last = np.ones(n, dtype=bool)
        last[:-1] = new[1:] | (self.ts[1:] != self.ts[:-1])
        self.out = np.flatnonzero(last)  # the rows kept, one per (lead, time)
        self.end = self.out + 1  # their frame ends (exclusive): the peers at the same time are in
        # a key that orders the rows as they are sorted, (lead, time), in one BIGINT: the lead's number
        # times a width past every lead's span, plus the time from the lead's first event; binary searches
        # run over needles in sorted order (cache-friendly: 3x faster than the same searches in row order)
        self.rel = self.ts - self.ts[self.lead_start][self.g] if n else self.ts
        self.width = int(self.rel.max()) + 1 if n else 1
        self.key: np.ndarray | None = None
        if len(self.lead_start) * self.width <= INT64_MAX:
            self.key = self.g * self.width + self.rel
        self._starts: dict[int | None, np.ndarray] = {}

    @classmethod
    def of(cls, table: pa.Table, types: Mapping[str, Sequence[str]] | None = None) -> Rows:
        """The rows of an Arrow table of `rows_sql`'s columns, sorted (lead ids as text or dictionary);
        `types`: the flags read from the column `type` (`WindowQuery.types`)."""
        import numpy as np

        return Packed(table, types).rows(np.arange(table.num_rows))

    def _ranked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the rows in time order, their times, the key (lead, the time's rank among all the rows'
        times) in one BIGINT): the key where the leads' spans are too wide for one."""
        import numpy as np

        perm = np.argsort(self.ts, kind="stable")
        sorted_ts = self.ts[perm]
        rank = np.empty(self.n, dtype=np.int64)
        rank[perm] = np.searchsorted(sorted_ts, sorted_ts)
        return perm, sorted_ts, self.g * (self.n + 1) + rank

    def start(self, micros: int | None, sel: np.ndarray | None = None) -> np.ndarray:
        """Each kept row's frame start: the first row of its lead at or after T - micros + 1. With `sel`
        (positions in `out`), those kept rows' alone, not kept for the next call (`Aggregates.at`: the
        rows of one call are not asked for again)."""
        import numpy as np

        found = self._starts.get(micros) if sel is None else None
        if found is None:
            out = self.out if sel is None else self.out[sel]
            g = self.g[out]
            if micros is None:
                found = self.lead_start[g]
            elif self.key is not None:
                # the lead's first row at or after the frame's first instant (its first row, if earlier)
                needle = g * self.width + np.maximum(self.rel[out] - (micros - 1), 0)
                found = np.searchsorted(self.key, needle)
            else:
                perm, sorted_ts, key = self._ranked()
                lo = np.empty(self.n, dtype=np.int64)
                lo[perm] = np.searchsorted(sorted_ts, sorted_ts - (micros - 1))
                found = np.searchsorted(key, g * (self.n + 1) + lo[out])
            if sel is None:
                self._starts[micros] = found
        return found

    def flag(self, name: str) -> np.ndarray:
        import numpy as np

        if name in ("TRUE", "FALSE"):
            return np.full(self.n, name == "TRUE")
        return self._flag(name)

    def weights(self, f: Frame) -> tuple[np.ndarray, np.ndarray]:
        """An epoch sum's terms at every row: (`weights_at` at the events of its flag, 0.0 elsewhere; the flag)."""
        import numpy as np

        flag = self.flag(f.weighted)
        values = np.zeros(self.n)
        at = np.flatnonzero(flag)
        values[at] = self.weights_at(f, at)
        return values, flag

    def weights_at(self, f: Frame, at: np.ndarray) -> np.ndarray:
        """An epoch sum's terms at the rows `at` (its flag's events): 2 ** ((time - the epoch's start) /
        half-life), as `window_rules._half_life_sum` writes them in SQL. The power is NumPy's, within an
        ulp of DuckDB's (the error bound of the rewritten decay allows far more), made at the flag's events
        only: a flag holds at 1-16 % of the b2b example's rows, and the sums' rules read other rows' not."""
        import numpy as np

        assert f.micros is not None
        ts = self.ts[at]
        since = ts - np.floor_divide(ts, f.micros) * f.micros
        out: np.ndarray = np.power(2.0, since.astype(np.float64) / float(f.half_life))
        return out


class Packed:
    """The rows of `rows_sql` as NumPy arrays: each row's lead as a number (`ids` gives its text), its
    time, and its flags packed 32 to a word, so that a part of the rows in sorted order (`rows`) is a
    gather of a few arrays. Taking the Arrow table's rows instead moved each flag as a column of bits
    and unpacked it again (26 columns on the b2b example: 0.08 CPU s a part of 10,000 leads, against
    0.03 for packing once and gathering). The flags of `types` come from the column `type`: its
    distinct values' bits looked up by each row's code (a NULL type, the row at T, matches none)."""

    def __init__(self, table: pa.Table, types: Mapping[str, Sequence[str]] | None = None) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        types = types or {}
        lead = table.column("lead_id").combine_chunks()
        if not pa.types.is_dictionary(lead.type):
            lead = pc.dictionary_encode(lead)
        self.ids: pa.Array = lead.dictionary
        self.lead = lead.indices.to_numpy()
        self.ts = table.column(TS).to_numpy()
        names = [name for name in table.column_names if name not in ("lead_id", TS, "type")]
        names += [name for name in types if name not in names]
        self.bits = {name: (i // 32, np.uint32(1 << (i % 32))) for i, name in enumerate(names)}
        self.words = [np.zeros(table.num_rows, dtype=np.uint32) for _ in range((len(names) + 31) // 32)]
        for i, name in enumerate(names):
            if name not in types:
                self.words[i // 32] |= _bools(table.column(name)).astype(np.uint32) << np.uint32(i % 32)
        if types:
            coded = pc.dictionary_encode(table.column("type").combine_chunks())
            values = coded.dictionary.to_pylist()
            codes = pc.fill_null(coded.indices, len(values)).to_numpy()
            for k, word in enumerate(self.words):
                lut = np.zeros(len(values) + 1, dtype=np.uint32)  # the last: a NULL type
                for name, of in types.items():
                    w, bit = self.bits[name]
                    if w == k:
                        lut[:-1] |= np.array([v in of for v in values], dtype=np.uint32) * bit
                if lut.any():
                    word |= lut[codes]

    @staticmethod
    def fits(table: pa.Table) -> bool:
        """Every column but the lead, the time and the type is a flag (BOOLEAN), as `rows_sql` gives them."""
        import pyarrow as pa

        return all(pa.types.is_boolean(f.type) for f in table.schema if f.name not in ("lead_id", TS, "type"))

    def rows(self, order: np.ndarray) -> Rows:
        """The rows `order` picks (whole leads, each by time), as `Rows`."""
        words = [w[order] for w in self.words]

        def flag(name: str) -> np.ndarray:
            k, bit = self.bits[name]
            return (words[k] & bit) != 0

        return Rows(self.lead[order], self.ts[order], flag)

    def lead_ids(self, rows: Rows, picked: np.ndarray) -> pa.Array:
        """The text ids of the leads of `rows`' rows `picked` (`rows` made by `self.rows`)."""
        import pyarrow as pa

        return self.ids.take(pa.array(rows.lead[picked]))


def _bools(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A BOOLEAN column as NumPy, FALSE where NULL."""
    import pyarrow.compute as pc

    return (pc.fill_null(col, False) if col.null_count else col).to_numpy(zero_copy_only=False)
