"""Sales feedback: of the leads marketing handed over, how many sales accepted, per criterion.

A decision is a stage move caused by a sales outcome inside the period: accepted (the model's transition
into `sql`, e.g. `sales_accepted`), rejected (into the recycle exit, e.g. `sales_rejected`), or
disqualified (a manual move to `disqualified`). Decisions are grouped by the lead's current labels (one
table per label set: temperature, company size...), by a lead attribute (the channel, `source` by
default) and by every rule that contributes to the lead's score, so marketing sees which criteria sales
disagrees with. Rejection reasons come from the decision event's `reason` property.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from leadscore.analytics.common import Funnel, ReportFilter, rate
from leadscore.analytics.tables import Chart, Column, ReportMeta, Series, Table
from leadscore.model.spec import ScoringModel
from leadscore.store.tables import events, leads, results, stage_history

DISQUALIFIED = "disqualified"


class FeedbackRow(BaseModel):
    criterion: str
    value: str
    decisions: int
    accepted: int
    rejected: int
    disqualified: int
    accept_rate: float | None


class ReasonRow(BaseModel):
    reason: str
    decisions: int


class FeedbackReport(BaseModel):
    meta: ReportMeta
    decisions: int
    accepted: int
    accept_rate: float | None
    rows: list[FeedbackRow]
    reasons: list[ReasonRow]

    def tables(self) -> list[Table]:
        return [
            Table(
                name="feedback",
                title="Accepted and rejected hand-overs by criterion",
                columns=[
                    Column(key="criterion", title="Criterion"),
                    Column(key="value", title="Value"),
                    Column(key="decisions", title="Decisions", kind="int"),
                    Column(key="accepted", title="Accepted", kind="int"),
                    Column(key="rejected", title="Rejected", kind="int"),
                    Column(key="disqualified", title="Disqualified", kind="int"),
                    Column(key="accept_rate", title="Accept rate", kind="rate"),
                ],
                rows=[r.model_dump() for r in self.rows],
                empty="Sales made no decision in this period.",
            ),
            Table(
                name="reasons",
                title="Reasons given for rejections",
                columns=[Column(key="reason", title="Reason"), Column(key="decisions", title="Decisions", kind="int")],
                rows=[r.model_dump() for r in self.reasons],
                empty="No rejection in this period.",
            ),
        ]

    def charts(self) -> list[Chart]:
        rules = [r for r in self.rows if r.criterion == "rule" and r.decisions][:15]
        return [
            Chart(
                name="rules",
                title="Accept rate of hand-overs by contributing rule",
                kind="bar",
                x_label="Rule",
                y_label="Accept rate",
                unit="%",
                series=[
                    Series(
                        name="accept rate",
                        points=[
                            (r.value, None if r.accept_rate is None else round(100 * r.accept_rate, 1)) for r in rules
                        ],
                    )
                ],
                reference=None if self.accept_rate is None else round(100 * self.accept_rate, 1),
            )
        ]


def _decisions(funnel: Funnel, f: ReportFilter) -> sa.CTE:
    sh = stage_history.c
    accepted = [f"event:{t}" for t in funnel.accept_events]
    rejected = [f"event:{t}" for t in funnel.reject_events]
    kind = sa.case(
        (sh.cause.in_(accepted), "accepted"),
        (sh.cause.in_(rejected), "rejected"),
        else_="disqualified",
    )
    return (
        sa.select(sh.lead_id.label("lead_id"), kind.label("kind"), sh.event_key.label("event_key"))
        .where(
            sh.at >= f.start_us,
            sh.at < f.end_us,
            sa.or_(sh.cause.in_(accepted + rejected), sa.and_(sh.to_stage == DISQUALIFIED, sh.cause == "manual")),
            f.lead_condition(sh.lead_id),
        )
        .cte("decisions")
        # Computed first, then joined, on SQLite (3.35 knows the hint): inlined, it walks every result
        # and looks its moves up (a million index probes for a few thousand decisions; 3.5 s instead
        # of 0.3 s per table at 1M leads). PostgreSQL hash-joins the inlined decisions in less than
        # half the time it takes over the materialised ones (6.3 against 14.1 s at 1M leads).
        .prefix_with("MATERIALIZED", dialect="sqlite")
    )


def _counts(kind: Any) -> list[Any]:
    return [
        sa.func.count(),
        sa.func.count(sa.case((kind == "accepted", 1))),
        sa.func.count(sa.case((kind == "rejected", 1))),
        sa.func.count(sa.case((kind == "disqualified", 1))),
    ]


def _row(criterion: str, value: Any, n: int, a: int, r: int, d: int) -> FeedbackRow:
    return FeedbackRow(
        criterion=criterion,
        value=str(value),
        decisions=n,
        accepted=a,
        rejected=r,
        disqualified=d,
        accept_rate=rate(a, n),
    )


def _rule_values(conn: sa.Connection) -> Any:
    """The rules of each result's breakdown, as rows (a JSON array expanded by the database)."""
    if conn.dialect.name == "postgresql":
        items = sa.func.json_array_elements(results.c.breakdown).table_valued("value").alias("item")
        return items, items.c.value.op("->>")("rule")
    items = sa.func.json_each(results.c.breakdown).table_valued("value").alias("item")
    return items, sa.func.json_extract(items.c.value, "$.rule")


def rule_counts(conn: sa.Connection, d: sa.CTE, joined: Any, in_duckdb: bool | None = None) -> list[tuple[Any, ...]]:
    """(rule, decisions, accepted, rejected, disqualified) per rule of the decided leads' breakdowns,
    most decisions first (caps and floors left out).

    SQLite expands each breakdown's JSON once per item it holds (5.7 s at 1M leads for 170,000
    decisions), PostgreSQL parses its `json` breakdowns again per item read (5.5 s), so the
    breakdowns are read as text with their decision and expanded by DuckDB (`in_duckdb`, by default
    on SQLite, and on PostgreSQL when the ADBC driver reads them: `postgres_arrow`): the same rows.
    SQLite's LIKE ignores ASCII case, hence ILIKE."""
    from leadscore.analytics import postgres_arrow

    postgres = conn.dialect.name == "postgresql"
    if in_duckdb is None:
        in_duckdb = conn.dialect.name == "sqlite" or (postgres and postgres_arrow.available())
    if not in_duckdb:
        items, rule = _rule_values(conn)
        q = sa.select(rule, *_counts(d.c.kind)).select_from(joined.join(items, sa.true()))
        q = q.where(~rule.like("cap:%"), ~rule.like("floor:%")).group_by(rule)
        return [tuple(r) for r in conn.execute(q.order_by(sa.func.count().desc(), rule))]
    import duckdb
    import pyarrow as pa

    schema = pa.schema([("kind", pa.string()), ("b", pa.string())])
    decided = sa.select(d.c.kind, sa.cast(results.c.breakdown, sa.Text)).select_from(joined)
    if postgres and postgres_arrow.available():  # decoded into Arrow by the driver, not row by row here
        sql = str(decided.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        table = postgres_arrow.read_postgres(conn.engine.url, sql, schema)
    else:
        rows = conn.execute(decided).all()
        table = pa.table([pa.array([r[i] for r in rows], pa.string()) for i in range(2)], schema=schema)
    with duckdb.connect() as con:
        con.register("decided", table)
        found = con.execute(
            """SELECT rule, count(*), count(*) FILTER (kind = 'accepted'), count(*) FILTER (kind = 'rejected'),
                      count(*) FILTER (kind = 'disqualified')
               FROM (SELECT kind, unnest(json_extract_string(b, '$[*].rule')) AS rule FROM decided)
               WHERE NOT rule ILIKE 'cap:%' AND NOT rule ILIKE 'floor:%'
               GROUP BY rule"""
        ).fetchall()
    return sorted(found, key=lambda r: (-r[1], r[0]))


def reason_counts(conn: sa.Connection, d: sa.CTE) -> list[tuple[str, int]]:
    """(reason, decisions) of the period's rejections and disqualifications, most first: the `reason`
    of the event each was caused by.

    PostgreSQL hash-joined the few thousand decisions with all the events (10M at 1M leads: a 1.5 GB
    hash table, 9-11 s); as a LATERAL subquery each decision looks its events up in the event key's
    index (0.4-0.6 s). OFFSET keeps the planner from turning the subquery back into a plain join.
    SQLite, whose decisions are materialised first, looks them up that way already."""
    if conn.dialect.name == "postgresql":
        found = (
            sa.select(events.c.properties)
            .where(events.c.event_key == d.c.event_key)
            .offset(sa.literal_column("0"))
            .lateral("decided_event")
        )
        joined = d.outerjoin(found, sa.true())
        properties = found.c.properties
    else:
        joined, properties = d.outerjoin(events, events.c.event_key == d.c.event_key), events.c.properties
    reason = sa.func.coalesce(properties["reason"].as_string(), "(no reason given)")
    q = sa.select(reason, sa.func.count()).select_from(joined).where(d.c.kind != "accepted")
    return [(r, n) for r, n in conn.execute(q.group_by(reason).order_by(sa.func.count().desc(), reason))]


def feedback_report(
    conn: sa.Connection,
    model: ScoringModel,
    funnel: Funnel,
    f: ReportFilter,
    meta: ReportMeta,
    channel: str = "source",
) -> FeedbackReport:
    d = _decisions(funnel, f)
    total, acc, _, _ = conn.execute(sa.select(*_counts(d.c.kind))).one()
    rows: list[FeedbackRow] = []
    joined = d.join(results, results.c.lead_id == d.c.lead_id)
    for set_name in model.labels:
        value = sa.func.coalesce(results.c.labels[set_name].as_string(), "(none)")
        for v, *c in conn.execute(
            sa.select(value, *_counts(d.c.kind)).select_from(joined).group_by(value).order_by(value)
        ):
            rows.append(_row(f"label {set_name}", v, *c))
    value = sa.func.coalesce(leads.c.attributes[channel].as_string(), "(none)")
    q = sa.select(value, *_counts(d.c.kind)).select_from(d.join(leads, leads.c.id == d.c.lead_id))
    for v, *c in conn.execute(q.group_by(value).order_by(sa.func.count().desc(), value)):
        rows.append(_row(channel, v, *c))
    rows += [_row("rule", v, *c) for v, *c in rule_counts(conn, d, joined)]
    reasons = [ReasonRow(reason=r, decisions=n) for r, n in reason_counts(conn, d)]
    return FeedbackReport(
        meta=meta, decisions=total, accepted=acc, accept_rate=rate(acc, total), rows=rows, reasons=reasons
    )
