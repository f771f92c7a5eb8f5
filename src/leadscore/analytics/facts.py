"""One row per lead of a period's cohort: when it entered the funnel and reached each milestone.

The cohort of a period is the leads whose first stage move (their entry into the funnel) lies in it.
Milestones count when reached before the period's end; reaching a later stage of the path counts as
passing the earlier ones (a lead that entered at `sql` is also past `mql`). Revenue is the `amount` of
the events that moved the lead into the won stage (the model's won transition, e.g. `deal_won`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from leadscore.analytics.common import Funnel, ReportFilter
from leadscore.analytics.history import stage_moves
from leadscore.store.tables import events, stage_history


def milestone_index(funnel: Funnel, stage: str | None) -> int | None:
    return funnel.position(stage)


def lead_facts(
    funnel: Funnel, f: ReportFilter, target: str | None = None, moves: sa.FromClause | None = None
) -> sa.CTE:
    """Columns: lead_id, entered_at, mql_at, sql_at, won_at, target_at (each null when not reached).

    `moves`: where the filtered moves are (`History.source`; default: `stage_moves(f)` in the store)."""
    sh = (moves if moves is not None else stage_moves(f).subquery("history")).c
    idx = funnel.index_of(sh.to_stage)

    def reached(stage: str | None) -> Any:
        i = funnel.position(stage)
        if i is None:
            return sa.cast(sa.null(), sa.BigInteger)
        return sa.func.min(sa.case((idx >= i, sh.at)))

    return (
        sa.select(
            sh.lead_id.label("lead_id"),
            sa.func.min(sh.at).label("entered_at"),
            reached(funnel.mql).label("mql_at"),
            reached(funnel.sql).label("sql_at"),
            reached(funnel.won).label("won_at"),
            reached(target).label("target_at"),
        )
        .group_by(sh.lead_id)
        .having(sa.func.min(sh.at) >= f.start_us)
        .cte("facts")
    )


def revenue_rows(funnel: Funnel, f: ReportFilter) -> sa.Select[Any]:
    """lead_id, revenue: the amounts of the moves into the won stage inside the period."""
    sh = stage_history.c
    amount = events.c.properties["amount"].as_float()
    return (
        sa.select(sh.lead_id.label("lead_id"), sa.func.sum(amount).label("revenue"))
        .select_from(stage_history.join(events, events.c.event_key == sh.event_key))
        .where(sh.to_stage == (funnel.won or ""), sh.at >= f.start_us, sh.at < f.end_us)
        .group_by(sh.lead_id)
    )


def revenue_by_lead(funnel: Funnel, f: ReportFilter) -> sa.Subquery:
    return revenue_rows(funnel, f).subquery("revenue")
