"""How the events lie in their files: lead by lead, or spread. It decides the form of the scoring
query's counts, never their values.

The GROUP BY keeps one row of aggregate states per lead. A `count(*) FILTER (WHERE flag)` updates the
states of the rows its flag keeps, after selecting them (a selection per aggregate and chunk of rows);
`count_if(flag)` adds 0 or 1 to the state of every row, without the selection. When a lead's events
are next to each other (files written lead by lead, as `leadscore generate` writes them) or the leads
are few, the states of a chunk's rows are a few, in cache: every row costs little and the selection
is the larger part, and `count_if` took 0.94 CPU s where the FILTER form took 1.30 (100k leads, 5M
events, 21 counts, one thread). When the events are in time order, each row's state is elsewhere in
memory: touching every row's state for every count costs more than selecting the few a flag keeps
(2.90 against 2.56 CPU s on the mixed data set). A sample of the first rows tells the two apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

SAMPLE_ROWS = 65_536
# rows per distinct lead in the sample from which the states of a chunk are few enough to stay in cache:
# lead by lead, 50 on `leadscore generate` data; spread over time, 1.35 at 100k leads, 1.03 at 1M
CLUSTERED_RATIO = 8.0


def events_clustered(
    con: duckdb.DuckDBPyConnection, relation: str = "_ls_raw_events", files: Sequence[str] = ()
) -> bool:
    """Whether the first rows of `relation` (its column `lead_id`) hold few leads for their number: the
    events come lead by lead, or the leads are few. A sample, not a guarantee: either answer gives the
    same results, only the cost of the counts differs.

    `files`: the Parquet files `relation` reads, in its order. Their first rows are then read from the
    first file by their row number, which DuckDB's reader prunes to the first row group, on one thread:
    0.008-0.010 CPU s against 0.020-0.024 for `LIMIT` over the view, whose two threads each decode a
    row group of 122,880 lead ids (the foreign benchmark's events). The same rows, unless the first file
    holds fewer: then the view's first rows, as without `files`."""
    if files:
        from leadscore.batch.duckdb.file_schemas import scan_sql

        scan = scan_sql([files[0]], "file_row_number = true")
        rows, leads = _sample(con, f"SELECT lead_id FROM {scan} WHERE file_row_number < {SAMPLE_ROWS}")
        if rows >= SAMPLE_ROWS or len(files) == 1:
            return rows > 0 and rows >= CLUSTERED_RATIO * leads
    rows, leads = _sample(con, f"SELECT lead_id FROM {relation} LIMIT {SAMPLE_ROWS}")
    return rows > 0 and rows >= CLUSTERED_RATIO * leads


def _sample(con: duckdb.DuckDBPyConnection, rows_sql: str) -> tuple[int, int]:
    """(rows, distinct lead ids) of the sample's rows."""
    row = con.execute(f"SELECT count(*), count(DISTINCT lead_id) FROM ({rows_sql})").fetchall()
    return (int(row[0][0] or 0), int(row[0][1] or 0)) if row else (0, 0)


def parquet_events(events: object) -> list[str]:
    """The Parquet files an events source names, in the reader's order (a file, or a directory of them);
    none for text files and in-memory tables."""
    if not isinstance(events, str | Path):
        return []
    path = Path(events)
    if not (path.is_dir() or path.suffix.lower() == ".parquet"):
        return []
    from leadscore.batch.duckdb.file_schemas import list_files

    return list_files(path)


def holds_lower_differs(con: duckdb.DuckDBPyConnection, column: str, relation: str = "events") -> bool:
    """Whether the first rows of `relation` hold, in `column` (a quoted name), a value with one of the
    characters DuckDB lowers unlike Python (`lookups.LOWER_DIFFERS`): such values are then common
    enough that a `contains` look-up on the column costs less made before the query than deferred
    (`Lookups.common_differs`). A sample: either answer gives the same results."""
    from leadscore.sql import literals as q
    from leadscore.sql.lookups import LOWER_DIFFERS

    held = " OR ".join(f"contains(v, {q.text(ch)})" for ch in LOWER_DIFFERS)
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE {held}) FROM (SELECT CAST({column} AS VARCHAR) AS v FROM {relation} "
        f"LIMIT {SAMPLE_ROWS})"
    ).fetchall()
    return bool(row and row[0][0])
