"""An earlier scoring query's per-lead aggregates read again by a later query over the same events (the
lifecycle replay's second pass, `query.build_query(aggregated=)`): which aggregates are the same
computation in both, and the `_ls_agg` CTE that reads those from the kept table."""

from __future__ import annotations

import re
from dataclasses import dataclass

from leadscore.sql.condition_sql import Compiler


@dataclass(frozen=True)
class Aggregated:
    """An earlier query's per-lead aggregates kept in `table` (its `QueryPlan.aggregates_sql`), for a
    query over the same events that would compute most of them again: the replay's second pass,
    whose only new aggregate is the fold over the events with their conditions (`build_query`)."""

    table: str
    columns: dict[str, str]  # `aggregate_keys` -> the table's column


_EVENT_COLUMN = re.compile(r"\b_ls_[fx]\d+\b")  # a flag or decay factor column of the events


def aggregate_keys(c: Compiler) -> dict[str, str]:
    """Each aggregate's SQL -> the same SQL with its flag and factor columns written out as what they
    compute. Their names are numbered in the order the compiler met them, which differs between two
    queries of one model (the replay's pass registers other stage aggregates before the playbooks'):
    `count_if(_ls_f12)` of one may be another filter in the other; the keys compare what is counted."""
    flags = {name: sql for sql, name in c.flags.items()}
    factors = {
        col: f"{sql} FOR {' OR '.join(sorted(flags.get(f, f) for f in fl))}" for sql, (col, fl) in c.factors.items()
    }

    def key(sql: str) -> str:
        return _EVENT_COLUMN.sub(lambda m: f"[{flags.get(m[0]) or factors.get(m[0]) or m[0]}]", sql)

    return {sql: key(sql) for sql in c.aggs.exprs}


def new_aggregates(c: Compiler, reuse: Aggregated) -> dict[str, str]:
    """The aggregates of `c` (SQL -> alias) that `reuse` does not hold: computed over the events again."""
    keys = aggregate_keys(c)
    return {sql: alias for sql, alias in c.aggs.exprs.items() if keys[sql] not in reuse.columns}


def reused_aggregates(c: Compiler, reuse: Aggregated, events: str, flagged: str, where: str, only: str | None) -> str:
    """The `_ls_agg` CTE with the aggregates `reuse` holds read from its table, and only the others
    computed over the events (from `flagged`, the events with their flag columns, when they read one;
    else from `events`, which skips computing the flags)."""
    keys = aggregate_keys(c)
    kept = [
        f"a.{reuse.columns[keys[sql]]} AS {alias}" for sql, alias in c.aggs.exprs.items() if keys[sql] in reuse.columns
    ]
    new = new_aggregates(c, reuse)
    cols = ", ".join(["a._ls_lead", *kept, *(f"n.{alias}" for alias in new.values())])
    sql = f"SELECT {cols} FROM {reuse.table} AS a"
    if new:
        source = flagged if any(_EVENT_COLUMN.search(x) for x in new) else events
        aggs = ", ".join(f"{x} AS {alias}" for x, alias in new.items())
        sql += (
            f" LEFT JOIN (SELECT lead_id AS _ls_nl, {aggs} FROM {source}{where} GROUP BY lead_id) AS n "
            "ON n._ls_nl = a._ls_lead"
        )
    if only is not None:
        sql += f" WHERE a._ls_lead IN (SELECT lead_id FROM {only})"
    return f"_ls_agg AS ({sql})"
