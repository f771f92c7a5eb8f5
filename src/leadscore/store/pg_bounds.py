"""PostgreSQL: a join with a part's lead ids bounded to the range those ids span.

A part of the bulk write holds the leads of one id range (`lifecycle_parts`), loaded into a temporary
table. Joined with `results` or `leads` by lead id, the planner chose a hash join over a sequential
scan of the whole stored table: 10,000 index probes looked dearer than reading every page. So each part
of 10,000 leads read all 100,000 results (37,000 pages, most of them from the OS cache) to compare its
rows with the stored ones, and every lead to lock its own, and at 1M leads each part of 100,000 read
the whole 1M. Bounded by the ids' least and greatest, the stored table is read by its primary key's
index over that range alone (a merge join over a tenth of the rows): the write statement's server CPU
0.34-0.53 -> 0.21-0.26 s a part of 10,000 leads, its lead locks 0.03-0.05 -> 0.02-0.03 (measured alone);
the whole lifecycle apply at 100,000 x 50, the server's 14.40-15.03 -> 13.58-13.99 CPU s. The bounds are
read first and written into the statement as literals, so the planner weighs them with the column's
statistics: a few leads scattered over the whole store (a refresh) span every id and keep the plan of
probes they had; as parameters of the statement (InitPlans), the range would look narrow whatever it
spans. The bounds only narrow what the join could match: the rows are the same.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from leadscore.sql import literals as q


def id_span(conn: Connection, ids_sql: str) -> tuple[str, str] | None:
    """The least and the greatest id that `ids_sql` (a query of one column of ids) gives, as the
    database orders text; None when it gives none."""
    low, high = conn.exec_driver_sql(f"SELECT min(b.x), max(b.x) FROM ({ids_sql}) AS b(x)").one()
    return None if low is None else (str(low), str(high))


def within_sql(column: str, span: tuple[str, str] | None) -> str:
    """SQL: `column` lies in `span` (`id_span`'s; FALSE without one: no ids, nothing to match)."""
    if span is None:
        return "FALSE"
    return f"{column} >= {q.text(span[0])} AND {column} <= {q.text(span[1])}"
