"""The lifecycle replay in SQL, for the leads whose stage the bounds cannot decide.

An automatic transition whose condition reads scores or events must be evaluated at every event's
time (`engine.lifecycle_replay`). At a time t the score includes every event at t, and windows and decay are
relative to t, so the whole scoring pipeline runs once per (lead, distinct event time): each of the
lead's event times is joined with its events up to that time and the GROUP BY is per (lead, t). The
automatic conditions at each t (and at T) land in a table that the main query, restricted to these
leads, folds exactly like the pure scorer replays (`lifecycle._replay_sql`).

The join holds about n^2/2 rows for a lead with n events (n per distinct time); past `MAX_EVENTS`
events the pure scorer's replay is cheaper (measured on `leadscore generate` data with the b2b-saas
model: 100 balances the two), so those leads stay with it.
"""

from __future__ import annotations

from leadscore.model.spec import ScoringModel
from leadscore.sql.columns import SourceSchema
from leadscore.sql.condition_sql import TS
from leadscore.sql.lookups import Lookups
from leadscore.sql.query import compiler, event_ctes, score_ctes
from leadscore.sql.rule_sql import rule_sql
from leadscore.sql.stage_sql import auto_conditions

T = "_ls_t"
MAX_EVENTS = 100


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
) -> str:
    """(lead_id, _ls_t, _ls_c0.._ls_ck): each automatic transition's condition at each event time up
    to `at` and at `at` itself, for the leads listed in the table `ids` (column lead_id)."""
    c = compiler(model, schema, T, "duckdb", lookups)
    rules = [rule_sql(c, r) for r in model.rules]
    conds = [f"{c.condition(cond)} AS _ls_c{k}" for k, cond in enumerate(auto_conditions(model))]
    ctes, source = event_ctes(schema, "duckdb", dedupe, dups_table, ids, null_ids)
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
