"""The duplicate check's pass over the event ids, run on a thread while the scoring query runs.

The check's pass over 50M ids (`id_order.py`) costs 1.6-1.9 CPU s, run before the query because the
query is built knowing whether repeats must be dropped. Where the ids will most likely prove distinct,
the query need not wait: it is built as if they were (no anti-join; the ids are not read), the pass
reads the files on a thread meanwhile (the Parquet reader and NumPy release the GIL, DuckDB too), and
the run settles the check once the query is done (`BatchRun._settle`): ids found distinct, the rows
stand; a repeat found after all, the query runs again dropping them (the cost of a wrong guess, never
a wrong result). A flagged id is checked then, before any result is trusted, as in the pass before.

"Most likely distinct": the row groups' statistics of the id column ascend strictly in input order
(`ascending_groups`), as in files written in id order. Ids in another order (random UUIDs) overlap
from the second group on: the check runs before the query, where its answer decides the query once.

Events delivered again at the end of the input (a file sent again, rows appended) have ids inside the
earlier range: the query need not wait for them either (`redelivered`). The last row groups' ids
(those the pass looks up anyway, `id_files.late_groups`) are read first: where the input's ascending
stretch ends among them and every id after that point lies below the stretch's last (back inside the
range already read, as a copy's id does), those rows are guessed to be the copies to drop, and the
query drops them (ranges of input order, `duplicates.assume_dropped`) while the pass runs. The run
then compares (`BatchRun._settle`): the copies found are the rows guessed, the rows stand; a row
guessed that is no copy, its lead is scored again; a copy outside the guess, the query runs again.
On the mixed benchmark set (50,054 copies, the rows of its last file) the check's 2.6-3.1 s of wall
before the query overlap it instead.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from threading import Event
from typing import TYPE_CHECKING

from leadscore.batch.duckdb.arrays import numpy_bools
from leadscore.batch.duckdb.id_files import COLUMN, ORD_FILE, group_ids, late_groups
from leadscore.batch.duckdb.id_late import buffers
from leadscore.batch.duckdb.id_order import Passed, files_pass, stretch

if TYPE_CHECKING:
    import pyarrow.parquet as pq


def _id_column(meta: pq.FileMetaData) -> int | None:
    group = meta.row_group(0)
    return next((j for j in range(group.num_columns) if group.column(j).path_in_schema == COLUMN), None)


def ascending_groups(files: list[str]) -> bool:
    """Whether every row group of the files, in input order, has statistics of its ids whose smallest
    is above the largest of the group before (byte order: text ids as the Parquet writer orders them).
    Only a guess that the ids are distinct: the pass over them decides (a group may repeat an id)."""
    import pyarrow.parquet as pq

    last: str | bytes | None = None
    for file in files:
        try:
            meta = pq.read_metadata(file)
        except Exception:  # pyarrow raises its own error types: the check before the query reads it
            return False
        if not meta.num_row_groups:
            continue
        column = _id_column(meta)
        if column is None:
            return False
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            if not group.num_rows:
                continue
            stats = group.column(column).statistics
            if stats is None or not stats.has_min_max:
                return False
            low, high = stats.min, stats.max
            if not isinstance(low, str | bytes) or not isinstance(high, str | bytes) or type(low) is not type(high):
                return False
            if last is not None and (type(last) is not type(low) or not low > last):  # type: ignore[operator]
                return False
            last = high
    return last is not None


def _ids_present(files: list[str]) -> bool:
    """Whether the statistics of every row group show no missing id: no NULL, and no empty text (the
    smallest id is not ''). The guess of `redelivered` holds only then: the query's form that drops
    copies by input order alone needs every event to have an id."""
    import pyarrow.parquet as pq

    for file in files:
        meta = pq.read_metadata(file)
        column = _id_column(meta) if meta.num_row_groups else None
        for g in range(meta.num_row_groups):
            if column is None:
                return False
            stats = meta.row_group(g).column(column).statistics
            if stats is None or not stats.has_null_count or stats.null_count or not stats.has_min_max:
                return False
            if not isinstance(stats.min, str) or not stats.min:
                return False
    return True


def redelivered(files: list[str], tail_limit: int) -> list[tuple[int, int]]:
    """The runs of input order (`_ls_ord`, first and last) guessed to be events delivered again (empty:
    no guess): the rows after the point where the ascending stretch breaks, when it breaks in the last
    row groups (`late_groups`) and every id after it lies below the stretch's last id (length, then
    bytes). Only a guess: the pass decides (`BatchRun._settle`)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        chosen = late_groups(files, tail_limit)
        if not chosen or not _ids_present(files):
            return []
        k, g = chosen[0][:2]
        if not (k or g):
            return []  # the late groups are the whole input (a small one): nothing before them to copy
        # the id just before the late groups, where the stretch is to go on from
        before = group_ids(files, k, g - 1) if g else group_ids(files, k - 1, _last_group(files[k - 1]))
        ids = pa.concat_arrays([group_ids(files, f, r) for f, r, _, _ in chosen])
    except (pa.ArrowException, OSError):
        return []  # the pass reads the files, or DuckDB names the error
    if ids.null_count or not len(before) or before.null_count:
        return []
    last = before[-1].as_py().encode()
    offsets, _ = buffers(ids)
    kept = stretch(ids, offsets, last)
    if kept == len(ids):
        return []  # no break in the late rows: no copy there (or the stretch broke earlier)
    top = ids[kept - 1].as_py().encode() if kept else last
    after = ids.slice(kept)
    lengths = np.diff(buffers(after)[0])
    below = (lengths < len(top)) | ((lengths == len(top)) & numpy_bools(pc.less(after, top.decode())))
    if not below.all():
        return []
    ords = np.concatenate([np.arange(first, first + rows, dtype=np.int64) for _, _, first, rows in chosen])[kept:]
    runs = []
    for file in np.unique(ords // ORD_FILE).tolist():  # one run per file (the rows after the break)
        mine = ords[ords // ORD_FILE == file]
        runs.append((int(mine[0]), int(mine[-1])))
    return runs


def _last_group(file: str) -> int:
    """The last row group of a file (OSError for a file of none: no guess then)."""
    import pyarrow.parquet as pq

    groups = pq.read_metadata(file).num_row_groups
    if not groups:
        raise OSError(f"{file}: no row group")
    return groups - 1


class IdsAhead:
    """`id_order.files_pass` over `files` on a thread of its own, from construction on. `copies`: the runs
    of input order the query drops meanwhile, guessed (`redelivered`); empty: the ids guessed distinct."""

    def __init__(
        self, files: list[str], tail_limit: int, test: bool, copies: list[tuple[int, int]] | None = None
    ) -> None:
        self.files = files
        self.copies = copies or []
        self._stop = Event()
        pool = ThreadPoolExecutor(1, thread_name_prefix="leadscore-ids")
        # with copies guessed, the pass finds the rows of their ids on its way (`id_late.py`)
        late = bool(self.copies)
        self._future: Future[Passed] = pool.submit(files_pass, files, tail_limit, test, self._stop, late)
        pool.shutdown(wait=False)  # the thread ends with its pass

    def result(self) -> Passed:
        """The pass's answer (waits for it)."""
        return self._future.result()

    def cancel(self) -> None:
        """The pass is no longer needed (the run failed): it ends at its next batch."""
        self._stop.set()
