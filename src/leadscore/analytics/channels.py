"""Channels and campaigns: which sources bring leads, and which bring leads that convert.

Per value of a lead attribute (`source`, `medium`, `campaign`, `landing_page`, or any other), or per
first / last touch (the `channel` property of the lead's first event that has one, and of its last
such event before it became an MQL, or before the period's end when it did not): the cohort's leads,
the share that reached MQL, SQL and won, the revenue won, and the median days to MQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel

from leadscore.analytics.common import Funnel, ReportFilter, days, pick_ranks, rank_query, rate
from leadscore.analytics.facts import lead_facts, revenue_by_lead, revenue_rows
from leadscore.analytics.history import ArrowHistory, read_moves, read_rows, read_select
from leadscore.analytics.tables import Chart, Column, ReportMeta, Series, Table
from leadscore.store.tables import events, leads

if TYPE_CHECKING:
    from leadscore.store.base import LeadStore

TOUCHES = ("first_touch", "last_touch")
NONE = "(none)"


class ChannelRow(BaseModel):
    value: str
    leads: int
    mql: int
    mql_rate: float | None
    sql: int
    sql_rate: float | None
    won: int
    won_rate: float | None
    revenue: float
    median_days_to_mql: float | None


class ChannelReport(BaseModel):
    meta: ReportMeta
    by: str
    rows: list[ChannelRow]

    def tables(self) -> list[Table]:
        return [
            Table(
                name="channels",
                title=f"Leads and conversion by {self.by.replace('_', ' ')}",
                columns=[
                    Column(key="value", title=self.by.replace("_", " ").capitalize()),
                    Column(key="leads", title="Leads", kind="int"),
                    Column(key="mql_rate", title="MQL rate", kind="rate"),
                    Column(key="sql_rate", title="SQL rate", kind="rate"),
                    Column(key="won_rate", title="Won rate", kind="rate"),
                    Column(key="won", title="Won", kind="int"),
                    Column(key="revenue", title="Revenue", kind="money"),
                    Column(key="median_days_to_mql", title="Median days to MQL", kind="days"),
                ],
                rows=[r.model_dump() for r in self.rows],
                empty="No lead entered the funnel in this period.",
            )
        ]

    def charts(self) -> list[Chart]:
        top = self.rows[:12]
        return [
            Chart(
                name="channel-leads",
                title=f"Leads by {self.by.replace('_', ' ')}",
                kind="bar",
                x_label=self.by.replace("_", " "),
                y_label="Leads",
                series=[Series(name="leads", points=[(r.value, float(r.leads)) for r in top])],
            ),
            Chart(
                name="channel-mql",
                title=f"MQL rate by {self.by.replace('_', ' ')}",
                kind="bar",
                x_label=self.by.replace("_", " "),
                y_label="MQL rate",
                unit="%",
                series=[Series(name="MQL rate", points=[(r.value, _pct(r.mql_rate)) for r in top])],
            ),
        ]


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 1)


def _touch(facts: sa.CTE, f: ReportFilter, which: str, prop: str) -> sa.Subquery:
    """lead_id, value: the channel of the lead's first (or last before MQL) event that names one."""
    channel = events.c.properties[prop].as_string()
    until = sa.func.coalesce(facts.c.mql_at, f.end_us)
    direction = [events.c.ts, events.c.seq] if which == "first_touch" else [events.c.ts.desc(), events.c.seq.desc()]
    ranked = (
        sa.select(
            events.c.lead_id.label("lead_id"),
            channel.label("value"),
            sa.func.row_number().over(partition_by=events.c.lead_id, order_by=direction).label("rn"),
        )
        .select_from(events.join(facts, facts.c.lead_id == events.c.lead_id))
        .where(channel.is_not(None), events.c.ts <= until)
        .subquery()
    )
    return sa.select(ranked.c.lead_id, ranked.c.value).where(ranked.c.rn == 1).subquery("touch")


def channel_report(
    conn: sa.Connection,
    funnel: Funnel,
    f: ReportFilter,
    meta: ReportMeta,
    by: str = "source",
    touch_property: str = "channel",
    history: ArrowHistory | None = None,
) -> ChannelReport:
    """`history`: the moves read into DuckDB (`ArrowHistory`) with the tables `LEAD_VALUES` and
    `REVENUE` added (`run_report` reads them); then the statement runs there. A first or last touch
    is always computed in the store (it reads the events)."""
    if not funnel.stages:
        meta.notes.append("The active model has no lifecycle: conversions cannot be counted.")
        return ChannelReport(meta=meta, by=by, rows=[])
    if history is not None and by not in TOUCHES:
        facts = lead_facts(funnel, f, moves=history.source)
        revenue: Any = REVENUE_TABLE
        values = LEAD_VALUES_TABLE
        joined: Any = facts.outerjoin(revenue, revenue.c.lead_id == facts.c.lead_id)
        joined = joined.join(values, values.c.id == facts.c.lead_id)
        value: Any = values.c.value
    else:
        facts = lead_facts(funnel, f)
        revenue = revenue_by_lead(funnel, f)
        joined = facts.outerjoin(revenue, revenue.c.lead_id == facts.c.lead_id)
        if by in TOUCHES:
            touch = _touch(facts, f, by, touch_property)
            joined = joined.outerjoin(touch, touch.c.lead_id == facts.c.lead_id)
            value = touch.c.value
        else:
            joined = joined.join(leads, leads.c.id == facts.c.lead_id)
            value = lead_value(by)
    group = sa.func.coalesce(value, NONE).label("g")
    end = f.end_us

    def hit(col: Any) -> Any:
        return sa.func.count(sa.case((col < end, 1)))

    q = (
        sa.select(
            sa.literal("cohort").label("kind"),
            group,
            sa.func.count().label("c1"),
            hit(facts.c.mql_at).label("c2"),
            hit(facts.c.sql_at).label("c3"),
            hit(facts.c.won_at).label("c4"),
            sa.func.coalesce(sa.func.sum(revenue.c.revenue), 0.0).label("c5"),
        )
        .select_from(joined)
        .group_by(group)
    )
    spans = (
        sa.select(group, (facts.c.mql_at - facts.c.entered_at).label("us"))
        .select_from(joined)
        .where(facts.c.mql_at < end)
        .subquery()
    )
    ranks = rank_query(spans, "g", "us", (50,)).subquery()
    median = sa.select(
        sa.literal("rank"), ranks.c.g, ranks.c.rn, ranks.c.n, ranks.c.v, sa.cast(sa.null(), sa.BigInteger), sa.null()
    )
    # one statement: the cohort's facts (a CTE used twice) are computed once for both parts
    statement = sa.union_all(q, median)
    found = history.rows(statement) if history is not None and by not in TOUCHES else conn.execute(statement)
    cohorts, rank_rows = [], []
    for kind, g, c1, c2, c3, c4, c5 in found:
        if kind == "cohort":
            cohorts.append((g, c1, c2, c3, c4, c5))
        else:
            rank_rows.append((g, c3, c1, c2))
    times, _ = pick_ranks(rank_rows, (50,))
    rows = []
    for g, n, mql, sql_, won, rev in cohorts:
        rows.append(
            ChannelRow(
                value=str(g),
                leads=n,
                mql=mql,
                mql_rate=rate(mql, n) if funnel.mql else None,
                sql=sql_,
                sql_rate=rate(sql_, n) if funnel.sql else None,
                won=won,
                won_rate=rate(won, n) if funnel.won else None,
                # in cents: a sum of amounts in another order may differ in its last bits
                revenue=round(float(rev or 0.0), 2),
                median_days_to_mql=days(times.get(g, {}).get(50)),
            )
        )
    rows.sort(key=lambda r: (-r.leads, r.value))
    return ChannelReport(meta=meta, by=by, rows=rows)


def lead_value(by: str) -> sa.ColumnElement[Any]:
    """The attribute `by` of a lead, as text on both stores."""
    return leads.c.attributes[by].as_string()


# the tables `run_report` adds to the moves in DuckDB: each lead's value of the attribute grouped by,
# and the revenue of each lead that was won in the period (`revenue_rows`, computed in the store)
LEAD_VALUES_TABLE = sa.table("lead_values", sa.column("id", sa.String), sa.column("value", sa.String))
REVENUE_TABLE = sa.table("revenue", sa.column("lead_id", sa.String), sa.column("revenue", sa.Float))


def channel_history(
    store: LeadStore, conn: sa.Connection, funnel: Funnel, f: ReportFilter, by: str, split: int | None = None
) -> ArrowHistory:
    """What `channel_report` reads, out of the store into DuckDB: the moves, each lead's value of
    `by` (every lead: the cohort is known only once the moves are grouped), the revenue per lead.
    `split`: a table with more rows is read by two SQLite readers (`bulk.export.query_table`)."""
    import pyarrow as pa

    history = ArrowHistory(read_moves(store, conn, f, split))
    try:
        values = sa.select(leads.c.id, lead_value(by).label("value")).where(leads.c.id.is_not(None))
        text = pa.schema([("id", pa.string()), ("value", pa.string())])
        history.add("lead_values", read_select(store, conn, values, "leads", "rowid", text, split))
        money = pa.schema([("lead_id", pa.string()), ("revenue", pa.float64())])
        history.add("revenue", read_rows(conn, revenue_rows(funnel, f), money))
    except BaseException:
        history.close()
        raise
    return history
