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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

SAMPLE_ROWS = 65_536
# rows per distinct lead in the sample from which the states of a chunk are few enough to stay in cache:
# lead by lead, 50 on `leadscore generate` data; spread over time, 1.35 at 100k leads, 1.03 at 1M
CLUSTERED_RATIO = 8.0


def events_clustered(con: duckdb.DuckDBPyConnection, relation: str = "_ls_raw_events") -> bool:
    """Whether the first rows of `relation` (its column `lead_id`) hold few leads for their number: the
    events come lead by lead, or the leads are few. A sample, not a guarantee: either answer gives the
    same results, only the cost of the counts differs."""
    row = con.execute(
        f"SELECT count(*), count(DISTINCT lead_id) FROM (SELECT lead_id FROM {relation} LIMIT {SAMPLE_ROWS})"
    ).fetchall()
    if not row:
        return False
    rows, leads = int(row[0][0] or 0), int(row[0][1] or 0)
    return rows > 0 and rows >= CLUSTERED_RATIO * leads


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
