"""PostgreSQL: a join with a batch's lead ids bounded to the range those ids span.

A part of the bulk write holds the leads of one id range (`lifecycle_parts`), loaded into a temporary
table. Joined with `results` or `leads` by lead id, the planner chose a hash join over a sequential
scan of the whole stored table: 10,000 index probes looked dearer than reading every page. So each part
of 10,000 leads read all 100,000 results (37,000 pages, most of them from the OS cache) to compare its
rows with the stored ones, and every lead to lock its own, and at 1M leads each part of 100,000 read
the whole 1M. Bounded by the ids' least and greatest (two index look-ups into the temporary table's key,
run once: InitPlans), the stored table is read by its primary key's index over that range alone (a
merge or hash join over a tenth of the rows): a write statement's server CPU 0.36-0.53 -> 0.21-0.26 s
a part of 10,000 leads. The bounds only narrow what the join could match: the rows are the same.
"""

from __future__ import annotations


def within_sql(column: str, ids_sql: str) -> str:
    """SQL: `column` lies between the least and the greatest id that `ids_sql` (a query of one column
    of ids) gives, compared as the database orders text; FALSE for every row when it gives none."""
    low = f"(SELECT min(b.x) FROM ({ids_sql}) AS b(x))"
    high = f"(SELECT max(b.x) FROM ({ids_sql}) AS b(x))"
    return f"{column} >= {low} AND {column} <= {high}"
