"""The duplicate check's pass over the event ids, run on a thread while the scoring query runs.

The check's pass over 50M ids (`id_order.py`) costs 1.6-1.9 CPU s, run before the query because the
query is built knowing whether repeats must be dropped. Where the ids will most likely prove distinct,
the query need not wait: it is built as if they were (no anti-join; the ids are not read), the pass
reads the files on a thread meanwhile (the Parquet reader and NumPy release the GIL, DuckDB too), and
the run settles the check once the query is done (`BatchRun._settle`): ids found distinct, the rows
stand; a repeat found after all, the query runs again dropping them (the cost of a wrong guess, never
a wrong result). A flagged id is checked then, before any result is trusted, as in the pass before.

"Most likely distinct": the row groups' statistics of the id column ascend strictly in input order
(`ascending_groups`), as in files written in id order. Events delivered again in a later file have ids
inside an earlier range, and ids in another order (random UUIDs) overlap from the second group on: both
keep the check before the query, where its answer decides the query once.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from threading import Event
from typing import TYPE_CHECKING

from leadscore.batch.duckdb.id_files import COLUMN
from leadscore.batch.duckdb.id_order import Passed, files_pass

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


class IdsAhead:
    """`id_order.files_pass` over `files` on a thread of its own, from construction on."""

    def __init__(self, files: list[str], tail_limit: int, test: bool) -> None:
        self.files = files
        self._stop = Event()
        pool = ThreadPoolExecutor(1, thread_name_prefix="leadscore-ids")
        self._future: Future[Passed] = pool.submit(files_pass, files, tail_limit, test, self._stop)
        pool.shutdown(wait=False)  # the thread ends with its pass

    def result(self) -> Passed:
        """The pass's answer (waits for it)."""
        return self._future.result()

    def cancel(self) -> None:
        """The pass is no longer needed (the run failed): it ends at its next batch."""
        self._stop.set()
