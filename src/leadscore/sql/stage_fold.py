"""The lifecycle fold as a recursive CTE, for SQL dialects without arrays and lambdas (PostgreSQL,
Snowflake, BigQuery).

DuckDB folds a lead's relevant events with `list_reduce` and Spark with `aggregate`; elsewhere the
same fold walks the events one step per recursion: step k applies the k-th relevant event's own
transition and then the automatic ones, exactly the lambda's body. Only events with a transition
(or `stage_set`) recurse, so the depth is the largest number of such events of one lead, not of
all its events. Whether some event came before the first relevant one (the automatic transitions
then run once on the initial stage) is read from the events' overall position.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadscore.sql.condition_sql import TS


@dataclass(frozen=True)
class RecursiveFold:
    relevant: str  # BOOLEAN over an event row: it has a transition or is a `stage_set`
    order: str  # the tie-breaker after time (input order, or the event id)
    stage_value: str  # the `stage` property of a `stage_set` event
    init: str  # the initial stage, over the lead's row
    init_then_auto: str  # the automatic transitions applied to it, over the lead's row
    step: str  # the next stage from `acc` and the event `x` (columns t, s), over the lead's row


def fold_ctes(fold: RecursiveFold, events: str, leads: str, at: int, out: str, column: str) -> list[str]:
    """CTEs ending in `out`: the rows of `leads` (which have `_ls_id`) plus the fold in `column`."""
    varchar = "CAST({} AS VARCHAR)"
    return [
        f"_ls_rn AS (SELECT lead_id, type AS t, {fold.stage_value} AS s, (CASE WHEN {fold.relevant} THEN 1 ELSE 0 END) "
        f"AS r, row_number() OVER (PARTITION BY lead_id ORDER BY {TS}, {fold.order}) AS n_all "
        f"FROM {events} WHERE {TS} <= {at})",
        "_ls_rel AS (SELECT lead_id, t, s, n_all, row_number() OVER (PARTITION BY lead_id ORDER BY n_all) AS n "
        "FROM _ls_rn WHERE r = 1)",
        "_ls_relfirst AS (SELECT lead_id, min(n_all) AS first_n FROM _ls_rel GROUP BY lead_id)",
        "_ls_fold_r (lead_id, n, acc) AS (SELECT b._ls_id, CAST(0 AS BIGINT), "
        + varchar.format(f"(CASE WHEN coalesce(fr.first_n, 1) > 1 THEN {fold.init_then_auto} ELSE {fold.init} END)")
        + f" FROM {leads} AS b LEFT JOIN _ls_relfirst AS fr ON fr.lead_id = b._ls_id "
        f"UNION ALL SELECT r.lead_id, x.n, {varchar.format(fold.step)} FROM _ls_fold_r AS r "
        f"JOIN _ls_rel AS x ON x.lead_id = r.lead_id AND x.n = r.n + 1 JOIN {leads} AS b ON b._ls_id = r.lead_id)",
        "_ls_fold_last AS (SELECT lead_id, acc FROM (SELECT lead_id, acc, row_number() OVER "
        "(PARTITION BY lead_id ORDER BY n DESC) AS k FROM _ls_fold_r) AS z WHERE k = 1)",
        f"{out} AS (SELECT b.*, f.acc AS {column} FROM {leads} AS b JOIN _ls_fold_last AS f ON f.lead_id = b._ls_id)",
    ]
