"""The lifecycle replay's conditions at every event time in one pass, with window functions.

`stage_replay.join_conditions_query` scores a lead at each of its event times by joining that time
with all the lead's events up to it (n^2 / 2 rows for n events). Here every aggregate the model
reads becomes a window function over the lead's events ordered by time, so each event row carries
the aggregate at its own time:

- a rule or condition window `within: D` (T - D < ts <= T) is the frame `RANGE BETWEEN D - 1
  PRECEDING AND CURRENT ROW` over integer micros; RANGE includes the peers at the same instant, as
  "the score at t includes every event at t" requires; without a window the frame starts unbounded;
- counts, sums, min / max, the latest time of matching events, sums of the times (linear decay)
  are window aggregates over the events' filter columns;
- rows of one lead at the same time carry the same values and collapse to one (lead, t) row; one row
  per lead at T is added (no event of its own), so the pass at T reads the same aggregates.

Everything is then scored exactly as the join does (the same rule SQL over the collapsed rows,
`query.score_ctes`), except the two decays whose per-event factor depends on t (a half-life and a
linear decay without `once`): their sums are rewritten (`window_rules`) into window sums times a factor of
the row's time, which rounds differently from the pure scorer's sum of factors. Those values carry
an error bound, so each automatic condition on a score is three-valued (certainly true, certainly
false, or too close to its threshold to tell); the few (lead, t) rows left undecided are scored by
the join, which is exact. Values without such a decay have no error and compare exactly (a cap of
40 against `gte: 40` decides as the pure scorer does).

The compiler that writes each aggregate as a window function is `window_compiler`; the rules' points
at each row's time, with the rewritten decays and their error bounds, `window_rules`; the conditions
decided three-valued under those bounds, `window_errors`. This module assembles the pass: the
events with one row per lead at T, the columns the NumPy engine reads (`rows_sql`, `bulk.frames`),
the window aggregates and the scored conditions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.columns import SourceSchema
from leadscore.sql.condition_sql import TS
from leadscore.sql.lookups import Lookups
from leadscore.sql.query import compiler, event_ctes, score_ctes
from leadscore.sql.stage_arrays import ArrayPlan, array_plan
from leadscore.sql.stage_sql import auto_conditions, moving_types, reentries, relevance
from leadscore.sql.window_compiler import Frame, T, WindowCompiler
from leadscore.sql.window_errors import score_errors, tri
from leadscore.sql.window_rules import window_rule

__all__ = [
    "ENTERS",
    "MOVING",
    "PEER_LAST",
    "RETURNS",
    "WindowQuery",
    "window_conditions_query",
]

MOVING = "_ls_mv"  # a column of `rows_sql` with `moving`: the event can move a stage on its own
ENTERS = "_ls_en"  # columns k of `rows_sql` with `moving`: the event may bring the lead where condition k is read
# flags k of `rows_sql` with `moving` (read from the type): the event may bring the lead to a stage from which
# only other automatic transitions lead where condition k is read (`stage_sql.reentries`)
RETURNS = "_ls_eq"
PEER_LAST = "_ls_peer_last"


@dataclass(frozen=True)
class WindowQuery:
    sql: str  # (lead_id, _ls_t, _ls_c0..): NULL where the condition is too close to its threshold
    exact: bool  # no condition can be undecided (no rewritten decay reaches a score condition)
    # the events (with the T rows) with the columns `frames` read: lead_id, _ls_ts, then each flag
    # and value column they name
    rows_sql: str = ""
    # each window aggregate's alias -> what it computes; None when some aggregate needs SQL
    frames: dict[str, Frame] | None = None
    # (lead_id, _ls_t, each alias) from the window operator, one row per (lead, time): what `frames` give
    aggregates_sql: str = ""
    # the conditions as arrays compute them from the aggregates of `frames` (`bulk.frame_scores`)
    arrays: ArrayPlan | None = None
    # the flags `rows_sql` leaves out, each true at the events of its types (its column `type`)
    types: dict[str, tuple[str, ...]] = field(default_factory=dict)


def window_conditions_query(
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
    moving: bool = False,
) -> WindowQuery:
    """Each automatic transition's condition at each event time up to `at` and at `at`, for the leads
    listed in the table `ids`, as `stage_replay.join_conditions_query` gives them, except NULL where a
    rewritten decay leaves a score condition undecided. With `aggregates`, the window aggregates are
    read from that table (lead_id, _ls_t, _ls_peer_last and each alias of `frames`, computed from
    `rows_sql` by `bulk.frames`) instead of computed by the window operator. With `moving`, `rows_sql`
    also has the column MOVING."""
    base = compiler(model, schema, T, "duckdb", lookups)
    c = WindowCompiler(**{f.name: getattr(base, f.name) for f in fields(base)})
    rules = [window_rule(c, r) for r in model.rules]
    dims = model.dimension_names()
    errors = score_errors(model, rules)
    columns = {d: f"_ls_de{j}" if errors[d] != "0" else "0" for j, d in enumerate(dims)}
    columns["total"] = "_ls_te" if errors["total"] != "0" else "0"
    conds = []
    for k, cond in enumerate(auto_conditions(model)):
        sure, never = tri(c, cond, columns)
        conds.append(f"(CASE WHEN {sure} THEN TRUE WHEN {never} THEN FALSE END) AS _ls_c{k}")
    exact = all(e == "0" for e in errors.values())
    arrays = array_plan(c, model, auto_conditions(model))

    ctes, source = event_ctes(schema, "duckdb", dedupe, dups_table, ids, null_ids)
    # one row per lead at T without an event of its own: its type is NULL, so no filter keeps it
    ctes.append(
        f"_ls_wev AS (SELECT * FROM {source} WHERE {TS} <= {at} "
        f"UNION ALL BY NAME SELECT lead_id, CAST({at} AS BIGINT) AS {TS} FROM {ids})"
    )
    # the window operator sorts and keeps every column it is given: only the time, the filters and the
    # per-event values the windows read go in (not the events' property columns)
    ctes.append(f"_ls_wf AS (SELECT *{c.flag_columns()} FROM _ls_wev)")
    kept = ["lead_id", TS, "type", *c.flags.values(), *(f"{sql} AS {name}" for sql, name in c.row_columns.items())]
    extra = []
    if moving and model.lifecycle is not None:
        # whether the event has a transition of its own (or is a `stage_set`): `bulk.frames` drops the
        # (lead, time) rows that cannot move a stage before it makes the table (`lifecycle_walk.drop_idle`)
        extra.append(MOVING)
        kept.append(f"coalesce(type IN {q.text_list(moving_types(model.lifecycle))}, FALSE) AS {MOVING}")
        # whether the event may bring the lead to a source of each automatic transition (`relevance`)
        for k, (_, types) in enumerate(relevance(model.lifecycle)):
            extra.append(f"{ENTERS}{k}")
            kept.append(
                f"coalesce(type IN {q.text_list(sorted(types))}, FALSE) AS {ENTERS}{k}"
                if types
                else f"FALSE AS {ENTERS}{k}"
            )
    ctes.append(f"_ls_wr AS (SELECT {', '.join(kept)} FROM _ls_wf)")
    frames = {a: f for a, f in c.frames.items() if f is not None}
    supported = len(frames) == len(c.aggs.exprs)
    # the weights of the epoch sums are not read: one power() per event and half-life in NumPy costs less
    # than DuckDB's one per rule, and than moving a DOUBLE column per rule (`frame_rows.Rows.weights`)
    read = sorted({f.reads for f in frames.values()} - {"TRUE", "FALSE"})
    # a flag of the event's type alone is read from the type (`frame_rows.Packed`): one text column out
    # of DuckDB instead of a BOOLEAN per flag, each an equality per row (0.06 of 0.11 CPU s a part)
    typed = {name: c.type_only[sql] for sql, name in c.flags.items() if sql in c.type_only and name in read}
    if moving and model.lifecycle is not None:
        typed[MOVING] = tuple(moving_types(model.lifecycle))
        typed.update({f"{ENTERS}{k}": tuple(sorted(t)) for k, (_, t) in enumerate(relevance(model.lifecycle))})
        typed.update(
            {f"{RETURNS}{k}": tuple(sorted(r[1])) for k, r in enumerate(reentries(model.lifecycle)) if r and r[1]}
        )
    picked = [name for name in [*read, *extra] if name not in typed]
    if typed:
        picked.insert(0, "type")
    rows_sql = "WITH " + ",\n".join(ctes) + f"\nSELECT {', '.join(['lead_id', TS, *picked])} FROM _ls_wr"
    if aggregates is not None:
        ctes = [f"_ls_wa AS (SELECT * FROM {aggregates})"]
    else:
        # the last row of each instant stands for all its peers (RANGE frames give them equal values)
        last = f"{TS} IS DISTINCT FROM lead({TS}) OVER (PARTITION BY lead_id ORDER BY {TS})"
        windows = [f"{sql} AS {alias}" for sql, alias in c.aggs.exprs.items()]
        aggs = ", ".join(["lead_id", f"{TS} AS {T}", f"{last} AS {PEER_LAST}", *windows])
        ctes.append(f"_ls_wa AS (SELECT {aggs} FROM _ls_wr)")
    aggregates_sql = "WITH " + ",\n".join(ctes) + f"\nSELECT * EXCLUDE ({PEER_LAST}) FROM _ls_wa WHERE {PEER_LAST}"
    ctes.append(
        f"_ls_base AS (SELECT a.lead_id AS _ls_id, l.*, a.* EXCLUDE (lead_id, {PEER_LAST}) FROM _ls_wa AS a "
        f"LEFT JOIN leads AS l ON l.id = a.lead_id WHERE a.{PEER_LAST})"
    )
    source = "_ls_base"
    for level, level_cols in enumerate(c.derived):
        if level_cols:
            derived = ", ".join(f"{sql} AS {name}" for sql, name in level_cols.items())
            ctes.append(f"_ls_dl{level} AS (SELECT *, {derived} FROM {source})")
            source = f"_ls_dl{level}"
    ctes += score_ctes(model, [r.sql for r in rules], "duckdb", source)
    errs = [f"{errors[d]} AS _ls_de{j}" for j, d in enumerate(dims) if errors[d] != "0"]
    last_cte = "_ls_dims"
    if errs:
        ctes.append(f"_ls_derr AS (SELECT *, {', '.join(errs)} FROM _ls_dims)")
        ctes.append(f"_ls_terr AS (SELECT *, {errors['total']} AS _ls_te FROM _ls_derr)")
        last_cte = "_ls_terr"
    cols = ", ".join(["_ls_id AS lead_id", T, *conds])
    sql = "WITH " + ",\n".join(ctes) + f"\nSELECT {cols} FROM {last_cte}"
    if not supported:
        return WindowQuery(sql, exact, rows_sql, None, aggregates_sql, types=typed)
    return WindowQuery(sql, exact, rows_sql, frames, aggregates_sql, arrays, typed)
