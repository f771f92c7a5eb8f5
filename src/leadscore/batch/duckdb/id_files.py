"""The event ids of Parquet files, read by the Parquet reader itself for the ordered pass (`id_order.py`).

The pass only needs the ids in input order. Where the `events` view reads them from the files as
stored (text ids with nothing to strip: `sources.prepare` then takes the column as it is, an empty
id as missing), reading the column with pyarrow gives the same values in the same order, and costs
less than having DuckDB hand them over: 1.2-1.3 against 1.7-2.1 CPU s for 50M ids. The caller
decides when the view reads them as stored (`duplicates.find_duplicates`); this module only checks
that every file holds them where the reader will look (`readable`), else the pass reads the view.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

COLUMN = "id"
# the events view's `_ls_ord` of several files: the file's index times this, plus the row in the file
ORD_FILE = 1 << 40
# a row group past this many rows is read in batches, so that no more than a batch of ids is in memory
_GROUP_ROWS = 1 << 22


def _text(typ: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    return bool(pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ))


def readable(files: list[str]) -> bool:
    """Whether every file has the ids as one text column named `id`, and no other column whose name
    DuckDB would match to it (its names ignore case): then `read_ids` gives the view's ids."""
    import pyarrow.parquet as pq

    for file in files:
        try:
            schema = pq.read_schema(file)
        except Exception:  # pyarrow raises its own error types: DuckDB reads the file, or names it
            return False
        names = [n for n in schema.names if n.lower() == COLUMN]
        if names != [COLUMN] or not _text(schema.field(COLUMN).type):
            return False
    return True


def read_ids(files: list[str], batch: int) -> Iterator[pa.Array]:
    """The ids of the files in input order (file by file, row by row), at most `batch` at a time,
    NULLs left out (empty ids are left to the caller: `nullif(id, '')` in the view)."""
    for _, part in read_id_rows(files, batch):
        yield part.drop_null() if part.null_count else part


def ord_base(files: list[str], file: int) -> int:
    """The `_ls_ord` of a file's first row, as the events view numbers the rows (`sources._file_relation`)."""
    return file * ORD_FILE if len(files) > 1 else 0


def read_id_rows(files: list[str], batch: int) -> Iterator[tuple[int, pa.Array]]:
    """(the `_ls_ord` of the first row, the ids of consecutive rows from it, NULLs kept), in input order,
    at most `batch` rows at a time. The next row group is read on a thread while the caller tests this
    one (the reader releases the GIL): the pass takes about the reading's time instead of the sum of both."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    with ThreadPoolExecutor(1) as pool:
        groups = _groups(files, batch)
        ahead = pool.submit(next, groups, None)
        while (read := ahead.result()) is not None:
            ahead = pool.submit(next, groups, None)
            first, parts = read
            for part in parts:
                if pa.types.is_dictionary(part.type):
                    part = part.dictionary_decode()
                for start in range(0, len(part), batch):
                    yield first + start, part.slice(start, batch)
                first += len(part)


def late_ids(files: list[str], rows: int) -> pa.Array:
    """The ids (NULLs left out) of the input's last row groups, as many whole groups as hold at most
    `rows` rows in all: where events delivered again lie, when they come in a later file or at the end."""
    return _ids(_late_groups(files, rows)[0])


def before_late(files: list[str], rows: int) -> pa.Array:
    """The ids (NULLs left out) of the row group just before those of `late_ids` (none: no such group)."""
    return late_and_before(files, rows)[1]


def late_and_before(files: list[str], rows: int) -> tuple[pa.Array, pa.Array]:
    """(`late_ids`, the ids (NULLs left out) of the row group just before them (none: no such group)),
    the files' metadata read once for both."""
    late, before = _late_groups(files, rows)
    return _ids(late), _ids([before] if before is not None else [])


def _late_groups(files: list[str], rows: int) -> tuple[list[tuple[str, int]], tuple[str, int] | None]:
    """(the (file, row group) of `late_ids` in input order, the one before them)."""
    import pyarrow.parquet as pq

    chosen: list[tuple[str, int]] = []
    for file in reversed(files):
        meta = pq.read_metadata(file)
        for group in reversed(range(meta.num_row_groups)):
            rows -= meta.row_group(group).num_rows
            if rows < 0:
                return chosen[::-1], (file, group)
            chosen.append((file, group))
    return chosen[::-1], None


def _ids(groups: list[tuple[str, int]]) -> pa.Array:
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts: list[pa.Array] = []
    for file, group in groups:
        for part in pq.ParquetFile(file).read_row_group(group, columns=[COLUMN], use_threads=False).column(0).chunks:
            if pa.types.is_dictionary(part.type):
                part = part.dictionary_decode()
            parts.append(part.drop_null().cast(pa.string()))
    return pa.concat_arrays(parts) if parts else pa.nulls(0, pa.string())


def _groups(files: list[str], batch: int) -> Iterator[tuple[int, list[pa.Array]]]:
    """(the `_ls_ord` of its first row, the id column) of each row group in turn (in batches past
    `_GROUP_ROWS` rows)."""
    import pyarrow.parquet as pq

    for k, file in enumerate(files):
        parquet = pq.ParquetFile(file)
        first = ord_base(files, k)
        for group in range(parquet.metadata.num_row_groups):
            rows = parquet.metadata.row_group(group).num_rows
            if rows > _GROUP_ROWS:
                for part in parquet.iter_batches(batch, row_groups=[group], columns=[COLUMN], use_threads=False):
                    yield first, [part.column(0)]
                    first += part.num_rows
            else:
                yield first, parquet.read_row_group(group, columns=[COLUMN], use_threads=False).column(0).chunks
                first += rows


LEAD = "lead_id"


class LeadReads:
    """The lead ids of given rows of the files (as stored: the events view reads them so wherever the
    pass reads the files), read on a thread of their own while the pass goes on: the rows holding a
    tail id, found batch by batch (`id_late.py`). One read of the row group's `lead_id` column per
    batch with such rows; where a file's lead ids are no text column, or a row group is read in
    parts, nothing is read (`result` None: the lead ids are read in SQL)."""

    def __init__(self, files: list[str]) -> None:
        from concurrent.futures import Future, ThreadPoolExecutor

        import numpy as np
        import pyarrow.parquet as pq

        self.files = files
        self._starts: list[np.ndarray] = []
        self.usable = True
        for file in files:
            try:
                schema = pq.read_schema(file)
                meta = pq.read_metadata(file)
            except Exception:  # pyarrow raises its own error types: the lead ids are read in SQL then
                self.usable = False
                break
            names = [n for n in schema.names if n.lower() == LEAD]
            sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
            if names != [LEAD] or not _text(schema.field(LEAD).type) or any(s > _GROUP_ROWS for s in sizes):
                self.usable = False
                break
            self._starts.append(np.cumsum([0, *sizes]))
        self._parts: list[Future[pa.Array]] = []
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="leadscore-leads") if self.usable else None
        self._open: dict[int, pq.ParquetFile] = {}

    def submit(self, ords: np.ndarray) -> None:
        """Read the lead ids of the rows `ords` (`_ls_ord`, ascending), in the order given."""
        if self._pool is not None and len(ords):
            self._parts.append(self._pool.submit(self._read, ords.copy()))

    def _read(self, ords: np.ndarray) -> pa.Array:
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        from leadscore.batch.duckdb.arrays import arrow_int64

        several = len(self.files) > 1
        files, rows = (ords // ORD_FILE, ords % ORD_FILE) if several else (np.zeros_like(ords), ords)
        parts = []
        for k in np.unique(files).tolist():
            mine = rows[files == k]
            starts = self._starts[k]
            groups = np.searchsorted(starts, mine, side="right") - 1
            parquet = self._open.get(k) or self._open.setdefault(k, pq.ParquetFile(self.files[k]))
            for g in np.unique(groups).tolist():
                column = parquet.read_row_group(g, columns=[LEAD], use_threads=False).column(0).combine_chunks()
                if pa.types.is_dictionary(column.type):
                    column = column.dictionary_decode()
                parts.append(column.take(arrow_int64(mine[groups == g] - starts[g])).cast(pa.string()))
        return pa.concat_arrays(parts)

    def result(self) -> pa.Array | None:
        """The lead ids of every row submitted, in order; None where they could not all be read."""
        import pyarrow as pa

        if self._pool is None:
            return None
        try:
            parts = [part.result() for part in self._parts]
        except (pa.ArrowException, OSError, IndexError):
            return None
        finally:
            self.close()
        return pa.concat_arrays(parts) if parts else pa.nulls(0, pa.string())

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
