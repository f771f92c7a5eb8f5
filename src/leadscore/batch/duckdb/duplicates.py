"""Which events repeat an id within their lead, found without a hash table over every event.

A DISTINCT or GROUP BY over tens of millions of ids is the slowest step DuckDB takes on this data
(about as long as the whole scoring query). Sorting a 64-bit hash of (lead, id) in NumPy finds the
candidates in a fraction of that; only ids whose hash repeats are then checked exactly in SQL, so a
hash collision costs a small extra pass, never a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import numpy as np

HASH = "hash(lead_id, id)"


@dataclass(frozen=True)
class DuplicateCheck:
    without_id: int  # events identified by content only (no id): they always need the window
    repeated_ids: int  # (lead, id) pairs seen more than once
    table: str  # (lead_id, id, keep): the input order (`_ls_ord`) of the copy that counts
    # `<table>_drop` (_ls_ord): the copies that do not count, which the query drops by an anti-join
    # on one integer column (it then never reads the ids)

    @property
    def needed(self) -> bool:
        return bool(self.without_id or self.repeated_ids)


def _repeated(values: np.ndarray) -> np.ndarray:
    """Values present more than once: sorted in place (a vectorised sort of 64-bit keys takes a
    fraction of a second per 10M on current CPUs; splitting it for two threads cost more in copies)."""
    import numpy as np

    if not values.flags.writeable:
        values = values.copy()
    values.sort()
    return np.unique(values[1:][values[1:] == values[:-1]])


def find_duplicates(
    con: duckdb.DuckDBPyConnection,
    table: str = "_ls_dups",
    id_check: str | None = None,
    check_files: Callable[[], None] | None = None,
) -> DuplicateCheck:
    """Create `table` with the repeated (lead, id) pairs of the `events` view and the copy to keep
    (the first in input order), and count the events without id.

    `id_check` (a BOOLEAN over an event's id: `file_checks.row_check_sql`) rides on the pass that
    reads every id: a row where it holds has no hash (NULL), and then `check_files` runs, which
    refuses the input or has the views strip (it raises); the ids are read once, here."""
    import numpy as np
    import pyarrow as pa

    total = int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])  # from file metadata
    # one contiguous array, copied once from the chunks (a NULL-free uint64 chunk is a NumPy view)
    checked = HASH if id_check is None else f"CASE WHEN {id_check} THEN NULL ELSE {HASH} END"
    column = con.sql(f"SELECT {checked} AS h FROM events WHERE id IS NOT NULL").to_arrow_table().column("h")
    if column.null_count:
        if check_files is not None:
            check_files()
        # the check found nothing to refuse or strip: the hashes of those rows too
        column = con.sql(f"SELECT {HASH} AS h FROM events WHERE id IS NOT NULL").to_arrow_table().column("h")
    chunks = [c.to_numpy(zero_copy_only=False) for c in column.chunks]
    values = np.concatenate(chunks) if chunks else np.empty(0, np.uint64)
    del column, chunks
    without_id = total - len(values)
    candidates = _repeated(values)
    del values
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (lead_id VARCHAR, id VARCHAR, keep BIGINT)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_drop (_ls_ord BIGINT)")
    if len(candidates):
        # one more pass over the events: the rows whose hash repeats (a few per thousand), checked exactly
        con.register("_ls_dup_hashes", pa.table({"h": pa.array(candidates, pa.uint64())}))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _ls_dup_rows AS SELECT lead_id, id, _ls_ord FROM events "
            f"WHERE id IS NOT NULL AND {HASH} IN (SELECT h FROM _ls_dup_hashes)"
        )
        con.unregister("_ls_dup_hashes")
        con.execute(
            f"INSERT INTO {table} SELECT lead_id, id, min(_ls_ord) FROM _ls_dup_rows "
            "GROUP BY lead_id, id HAVING count(*) > 1"
        )
        con.execute(
            f"INSERT INTO {table}_drop SELECT r._ls_ord FROM _ls_dup_rows AS r JOIN {table} AS d "
            "ON d.lead_id = r.lead_id AND d.id = r.id AND r._ls_ord <> d.keep"
        )
        con.execute("DROP TABLE _ls_dup_rows")
    row = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
    return DuplicateCheck(without_id=int(without_id), repeated_ids=int(row[0]), table=table)
