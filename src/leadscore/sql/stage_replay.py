"""The lifecycle replay in SQL, for the leads whose stage the bounds cannot decide.

An automatic transition whose condition reads scores or events must be evaluated at every event's
time (`engine.lifecycle_replay`). At a time t the score includes every event at t, and windows and decay are
relative to t, so the whole scoring pipeline runs once per (lead, distinct event time): each of the
lead's event times is joined with its events up to that time and the GROUP BY is per (lead, t). The
automatic conditions at each t (and at T) land in a table that the main query, restricted to these
leads, folds exactly like the pure scorer replays (`lifecycle._replay_sql`).

`conditions_query` computes the table in one pass of window functions over each lead's events
(`stage_windows`); the join (`join_conditions_query`: each event time joined with the lead's events
up to it, about n^2/2 rows for n events) stays as the definition the tests compare with, and scores
the few (lead, time) rows where a rewritten decay leaves a score condition too close to its threshold
to decide. With the one pass, a lead's cost grows with its events, not their square, so no lead
goes to the pure scorer for having many events (the join alone used to send leads past 100 events
there).
"""

from __future__ import annotations

from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.columns import SourceSchema
from leadscore.sql.condition_sql import TS
from leadscore.sql.lookups import Lookups
from leadscore.sql.query import compiler, event_ctes, score_ctes
from leadscore.sql.rule_sql import rule_sql
from leadscore.sql.stage_sql import auto_conditions
from leadscore.sql.stage_windows import window_conditions_query

T = "_ls_t"


def conditions_query(
    model: ScoringModel,
    schema: SourceSchema,
    at: int,
    ids: str,
    *,
    dedupe: bool,
    dups_table: str | None,
    lookups: Lookups | None = None,
    null_ids: bool = True,
    aggregates: str | None = None,
) -> str:
    """(lead_id, _ls_t, _ls_c0.._ls_ck): each automatic transition's condition at each event time up
    to `at` and at `at` itself, for the leads listed in the table `ids` (column lead_id): the one pass,
    with the join for the rows it leaves undecided. `aggregates`: the one pass's window aggregates,
    computed already (`bulk.frames`)."""
    window = window_conditions_query(
        model,
        schema,
        at,
        ids,
        dedupe=dedupe,
        dups_table=dups_table,
        lookups=lookups,
        null_ids=null_ids,
        aggregates=aggregates,
    )
    if window.exact:
        return window.sql
    n = len(auto_conditions(model))
    undecided = q.any_of([f"_ls_c{k} IS NULL" for k in range(n)])
    join = join_conditions_query(
        model,
        schema,
        at,
        "_ls_und_ids",
        dedupe=dedupe,
        dups_table=dups_table,
        lookups=lookups,
        null_ids=null_ids,
        times="_ls_und",
    )
    return (
        f"WITH _ls_win AS MATERIALIZED ({window.sql}),\n"
        f"_ls_und AS (SELECT lead_id, {T} FROM _ls_win WHERE {undecided}),\n"
        "_ls_und_ids AS (SELECT DISTINCT lead_id FROM _ls_und),\n"
        f"_ls_join AS ({join})\n"
        f"SELECT * FROM _ls_win WHERE NOT ({undecided}) UNION ALL SELECT * FROM _ls_join"
    )


def join_conditions_query(
    model: ScoringModel,
    schema: SourceSchema,
    at: int,
    ids: str,
    *,
    dedupe: bool,
    dups_table: str | None,
    lookups: Lookups | None = None,
    null_ids: bool = True,
    times: str | None = None,
) -> str:
    """(lead_id, _ls_t, _ls_c0.._ls_ck): each automatic transition's condition at each event time up
    to `at` and at `at` itself, for the leads listed in the table `ids` (column lead_id), scoring the
    lead at each time over a join with its events up to that time. `times` (lead_id, _ls_t) restricts
    it to those rows."""
    c = compiler(model, schema, T, "duckdb", lookups)
    rules = [rule_sql(c, r) for r in model.rules]
    conds = [f"{c.condition(cond)} AS _ls_c{k}" for k, cond in enumerate(auto_conditions(model))]
    ctes, source = event_ctes(schema, "duckdb", dedupe, dups_table, ids, null_ids)
    if times is not None:
        ctes.append(f"_ls_times AS (SELECT lead_id, {T} FROM {times})")
    else:
        ctes.append(
            f"_ls_times AS (SELECT DISTINCT lead_id, {TS} AS {T} FROM {source} WHERE {TS} <= {at} "
            f"UNION SELECT lead_id, CAST({at} AS BIGINT) AS {T} FROM {ids})"
        )
    ctes.append(
        f"_ls_x AS (SELECT t.{T}, e.* FROM _ls_times AS t JOIN {source} AS e "
        f"ON e.lead_id = t.lead_id AND e.{TS} <= t.{T})"
    )
    aggs = ", ".join(["lead_id AS _ls_lead", T, *(f"{sql} AS {alias}" for sql, alias in c.aggs.exprs.items())])
    ctes.append(f"_ls_xf AS (SELECT *{c.flag_columns()} FROM _ls_x)")
    ctes.append(f"_ls_xd AS (SELECT *{c.factor_columns()} FROM _ls_xf)")
    ctes.append(f"_ls_agg AS (SELECT {aggs} FROM _ls_xd GROUP BY lead_id, {T})")
    # from the times, not the aggregates: a lead with no event by T (or none at all) still has its row
    # at T, with NULL aggregates as the main query gives an eventless lead, so its automatic
    # transitions are decided there too (a `none:` rule can lift its score over a threshold)
    ctes.append(
        f"_ls_base AS (SELECT t.lead_id AS _ls_id, l.*, a.* EXCLUDE ({T}), t.{T} FROM _ls_times AS t "
        f"LEFT JOIN _ls_agg AS a ON a._ls_lead = t.lead_id AND a.{T} = t.{T} "
        "LEFT JOIN leads AS l ON l.id = t.lead_id)"
    )
    ctes += score_ctes(model, rules, "duckdb", "_ls_base")
    cols = ", ".join(["_ls_id AS lead_id", T, *conds])
    return "WITH " + ",\n".join(ctes) + f"\nSELECT {cols} FROM _ls_dims"
