"""Which events repeat an id within their lead, found without a hash table over every event.

A DISTINCT or GROUP BY over tens of millions of ids is the slowest step DuckDB takes on this data
(about as long as the whole scoring query). Sorting a 64-bit hash of (lead, id) in NumPy finds the
candidates in a fraction of that; only ids whose hash repeats are then checked exactly in SQL, so a
hash collision costs a small extra pass, never a wrong answer.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import numpy as np

HASH = "hash(lead_id, id)"
_HALF = 1 << 63


@dataclass(frozen=True)
class DuplicateCheck:
    without_id: int  # events identified by content only (no id): they always need the window
    repeated_ids: int  # (lead, id) pairs seen more than once
    table: str  # (lead_id, id, keep): the input order (`_ls_ord`) of the copy that counts

    @property
    def needed(self) -> bool:
        return bool(self.without_id or self.repeated_ids)


def _repeated(values: np.ndarray) -> np.ndarray:
    """Values present more than once; the two halves of the range are sorted in parallel."""
    import numpy as np

    high = values >= np.uint64(_HALF)
    parts = [values[~high], values[high]]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(np.ndarray.sort, parts))
    found = [p[1:][p[1:] == p[:-1]] for p in parts]
    return np.unique(np.concatenate(found))


def find_duplicates(con: duckdb.DuckDBPyConnection, table: str = "_ls_dups") -> DuplicateCheck:
    """Create `table` with the repeated (lead, id) pairs of the `events` view and the copy to keep
    (the first in input order), and count the events without id."""
    import pyarrow as pa

    hashes = con.sql(f"SELECT CASE WHEN id IS NOT NULL THEN {HASH} END AS h FROM events").to_arrow_table()
    column = hashes.column("h")
    without_id = column.null_count
    values = column.drop_null().to_numpy() if column.null_count else column.to_numpy()
    del hashes, column
    candidates = _repeated(values)
    del values
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (lead_id VARCHAR, id VARCHAR, keep BIGINT)")
    if len(candidates):
        con.register("_ls_dup_hashes", pa.table({"h": pa.array(candidates, pa.uint64())}))
        con.execute(
            f"INSERT INTO {table} SELECT lead_id, id, min(_ls_ord) FROM events WHERE id IS NOT NULL AND "
            f"{HASH} IN (SELECT h FROM _ls_dup_hashes) GROUP BY lead_id, id HAVING count(*) > 1"
        )
        con.unregister("_ls_dup_hashes")
    row = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0]
    return DuplicateCheck(without_id=int(without_id), repeated_ids=int(row[0]), table=table)
