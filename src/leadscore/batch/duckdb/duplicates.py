"""Which events repeat an id within their lead, found without a hash table over every event.

A DISTINCT or GROUP BY over tens of millions of ids is the slowest step DuckDB takes on this data
(about as long as the whole scoring query). A 64-bit hash of (lead, id) per event, sorted by DuckDB
(a parallel radix sort) and streamed back, finds the candidates by comparing neighbours; only ids
whose hash repeats are then checked exactly in SQL, so a hash collision costs a small extra pass,
never a wrong answer. (NumPy's sort of the same 50M hashes took 5.1 CPU s on one core, 17.5 s of
wall time on the shared machine; DuckDB's sort, fetch included, 8.1 CPU s in all against 12.1.)

The hash is of the event id alone: a repeat within a lead is a repeat of its id, and the exact check
groups by (lead, id), so an id shared by two leads is a candidate that check rules out. Reading and
hashing the lead ids as well cost a third of the check on events in time order (their lead ids
vary from row to row: 7.6 against 5.4 CPU s for 50M events, and 4.1 against 3.6 for the exact pass).
Where ids are shared by leads as a rule (a counter per lead), most rows would be candidates: past
`SHARED` of the rows, the check starts again with the hash of (lead, id), the previous cost.

Before any of that, ids that come in strictly ascending order (files written in id order, as
`leadscore generate` writes them) are all distinct, which one streamed pass proves without a sort:
3.8 CPU s for 50M events, the reader's checks of the ids included, against 7.5 for the sorted hashes.
Ids in another order are told from the first rows (a few hundredths of a second); the hashes decide.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from leadscore.sql import literals as q

if TYPE_CHECKING:
    import duckdb
    import numpy as np

HASH = "hash(id)"
PAIR_HASH = "hash(lead_id, id)"
# the share of the rows that may repeat an id's hash (as copies of another row) before the check hashes
# (lead, id) instead: ids repeated across leads as a rule, not a few repeats to check exactly
SHARED = 0.01


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


def _repeated(batches: Iterable[np.ndarray]) -> np.ndarray:
    """Values present more than once in a sorted sequence, given as consecutive arrays (a repeat
    may straddle two of them)."""
    return _repeats(batches)[0]


def _repeats(batches: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
    """(the values present more than once in a sorted sequence given as consecutive arrays, how many
    elements equal the one before them: the copies beyond the first of each)."""
    import numpy as np

    found: list[np.ndarray] = []
    last: np.ndarray | None = None
    copies = 0
    for values in batches:
        if not len(values):
            continue
        found.append(values[1:][values[1:] == values[:-1]])
        copies += len(found[-1])
        if last is not None and last[0] == values[0]:
            found.append(values[:1])
            copies += 1
        last = values[-1:]
    return (np.unique(np.concatenate(found)) if found else np.empty(0, np.uint64)), copies


def _sorted_repeats(con: duckdb.DuckDBPyConnection, hashed: str) -> tuple[np.ndarray, int, int] | None:
    """(the hashes that repeat, how many events have an id, how many rows copy an earlier row's hash),
    the hashes sorted by DuckDB and streamed batch by batch (never all in Python's memory at once);
    None when some hash is NULL."""
    counted = 0
    seen_null = False

    def batches() -> Iterator[np.ndarray]:
        nonlocal counted, seen_null
        query = f"SELECT {hashed} AS h FROM events WHERE id IS NOT NULL ORDER BY h NULLS LAST"
        for batch in con.sql(query).to_arrow_reader(_BATCH):
            column = batch.column(0)
            if column.null_count:  # sorted last: the batches after this one are NULL too
                seen_null = True
                return
            counted += len(column)
            # a NULL-free uint64 array is a NumPy view, no copy
            yield column.to_numpy(zero_copy_only=False)

    candidates, copies = _repeats(batches())
    return None if seen_null else (candidates, counted, copies)


_BATCH = 1 << 20
SAMPLE_ROWS = 65_536


def _shared_ids(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the first rows of the events already repeat ids past `SHARED` (ids shared by leads as a
    rule, or many repeats): the check then hashes (lead, id) from the start instead of after a pass.
    A sample, not a guarantee: either answer finds the same repeats."""
    row = con.execute(
        f"SELECT count(id), count(DISTINCT id) FROM (SELECT id FROM events LIMIT {SAMPLE_ROWS})"
    ).fetchall()
    ids, distinct = (int(row[0][0] or 0), int(row[0][1] or 0)) if row else (0, 0)
    return ids - distinct > SHARED * max(ids, 1)


def _ascending(con: duckdb.DuckDBPyConnection, ids: str, limit: int | None = None) -> int | None:
    """How many events have an id when those ids (`ids`: the column, or NULL where the reader's checks
    must look) come strictly ascending, so that no two are equal; None at the first that does not (or
    at a NULL). The order DuckDB returns them in is the files' in practice, but any order would do: a
    strictly ascending sequence repeats nothing. With `limit`, only the first rows are looked at."""
    import pyarrow.compute as pc

    counted = 0
    last = None
    query = f"SELECT {ids} AS i FROM events WHERE id IS NOT NULL" + (f" LIMIT {limit}" if limit else "")
    reader = con.sql(query).to_arrow_reader(_BATCH)
    try:
        for batch in reader:
            column = batch.column(0)
            if not len(column):
                continue
            if column.null_count:
                return None
            if len(column) > 1 and pc.any(pc.less_equal(column[1:], column[:-1])).as_py():
                return None
            first = column[0].as_py()
            if last is not None and not first > last:
                return None
            last = column[-1].as_py()
            counted += len(column)
    finally:
        reader.close()
    return counted


def _ranges_ascending(con: duckdb.DuckDBPyConnection, files: list[str]) -> bool:
    """Whether the id ranges of the files' row groups (their Parquet statistics), in input order, each
    lie above the one before: otherwise an id may come again later (events delivered again in a
    later file) and the pass over the ascending ids would be read up to there for nothing."""
    listed = "[" + ", ".join(q.text(f) for f in files) + "]"
    rows = con.execute(
        f"SELECT file_name, row_group_id, stats_min_value, stats_max_value FROM parquet_metadata({listed}) "
        "WHERE path_in_schema = 'id'"
    ).fetchall()
    position = {f: i for i, f in enumerate(files)}
    if len({r[0] for r in rows}) != len(files) or any(r[0] not in position for r in rows):
        return False
    last: str | None = None
    for _, _, low, high in sorted(rows, key=lambda r: (position[r[0]], r[1])):
        if low is None or high is None or (last is not None and not str(low) > last):
            return False
        last = str(high)
    return True


def find_duplicates(
    con: duckdb.DuckDBPyConnection,
    table: str = "_ls_dups",
    id_check: str | None = None,
    check_files: Callable[[], None] | None = None,
    files: list[str] | None = None,
) -> DuplicateCheck:
    """Create `table` with the repeated (lead, id) pairs of the `events` view and the copy to keep
    (the first in input order), and count the events without id.

    `id_check` (a BOOLEAN over an event's id: `file_checks.row_check_sql`) rides on the pass that
    reads every id: a row where it holds has no hash (NULL), and then `check_files` runs, which
    refuses the input or has the views strip (it raises); the ids are read once, here. `files`: the
    events' Parquet files, whose statistics tell whether the ids may come in ascending order."""
    import pyarrow as pa

    total = int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])  # from file metadata
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (lead_id VARCHAR, id VARCHAR, keep BIGINT)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table}_drop (_ls_ord BIGINT)")
    ids = "id" if id_check is None else f"CASE WHEN {id_check} THEN NULL ELSE id END"
    # the first rows first: ids in another order are told from them, before DuckDB reads ahead
    ascending = None
    if (files is None or _ranges_ascending(con, files)) and _ascending(con, ids, SAMPLE_ROWS) is not None:
        ascending = _ascending(con, ids)
    if ascending is not None:
        return DuplicateCheck(without_id=total - ascending, repeated_ids=0, table=table)
    # ids shared by leads already in the first rows (a counter per lead): (lead, id) from the start
    hashed = PAIR_HASH if _shared_ids(con) else HASH
    checked = hashed if id_check is None else f"CASE WHEN {id_check} THEN NULL ELSE {hashed} END"
    found = _sorted_repeats(con, checked)
    if found is None:  # a row met `id_check` (its hash is NULL, sorted last)
        if check_files is not None:
            check_files()
        # the check found nothing to refuse or strip: the hashes of those rows too
        found = _sorted_repeats(con, hashed)
        assert found is not None  # a hash is never NULL
    if hashed == HASH and found[2] > SHARED * max(found[1], 1):
        # ids shared by leads as a rule: candidates by (lead, id), or the exact pass would read most rows
        # (the ids were checked by the first pass: `check_files` ran if one had to be)
        hashed = PAIR_HASH
        found = _sorted_repeats(con, PAIR_HASH)
        assert found is not None
    candidates, with_id, _ = found
    without_id = total - with_id
    if len(candidates):
        # one more pass over the events: the rows whose hash repeats (a few per thousand), checked exactly
        con.register("_ls_dup_hashes", pa.table({"h": pa.array(candidates, pa.uint64())}))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _ls_dup_rows AS SELECT lead_id, id, _ls_ord FROM events "
            f"WHERE id IS NOT NULL AND {hashed} IN (SELECT h FROM _ls_dup_hashes)"
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
