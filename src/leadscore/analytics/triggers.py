"""Triggers fired and webhook delivery health, for a period.

Firings are outbox messages created in the period (one per trigger firing and destination). Their state
is the message's state now (delivered, pending, dead). Delivery health counts the attempts made in the
period: success rate, HTTP status codes, latency (median and p90 by the nearest-rank rule), the latest
errors, and the attempts of each UTC day: delivered, failed (to be tried again) and dead-lettered (the
failed attempt after which the message was given up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from leadscore.analytics.common import DAY_US, ReportFilter, int_div, iso, pick_ranks, rank_query, rate
from leadscore.analytics.tables import Chart, Column, ReportMeta, Series, Table
from leadscore.store.tables import deliveries, outbox


class TriggerRow(BaseModel):
    trigger: str
    destination: str
    fired: int
    delivered: int
    pending: int
    dead: int


class DestinationRow(BaseModel):
    destination: str
    attempts: int
    ok: int
    success_rate: float | None
    median_ms: float | None
    p90_ms: float | None


class StatusRow(BaseModel):
    status: str
    attempts: int


class ErrorRow(BaseModel):
    at: str | None
    trigger: str
    destination: str
    lead_id: str
    attempt: int
    status_code: int | None
    error: str | None


class DayRow(BaseModel):
    day: str  # a UTC date, YYYY-MM-DD
    delivered: int
    failed: int
    dead: int


class TriggersReport(BaseModel):
    meta: ReportMeta
    fired: int
    rows: list[TriggerRow]
    destinations: list[DestinationRow]
    statuses: list[StatusRow]
    errors: list[ErrorRow]
    days: list[DayRow] = []  # every day of the period, when any attempt was made in it

    def tables(self) -> list[Table]:
        return [
            Table(
                name="triggers",
                title="Triggers fired",
                columns=[
                    Column(key="trigger", title="Trigger"),
                    Column(key="destination", title="Destination"),
                    Column(key="fired", title="Fired", kind="int"),
                    Column(key="delivered", title="Delivered", kind="int"),
                    Column(key="pending", title="Pending", kind="int"),
                    Column(key="dead", title="Dead", kind="int"),
                ],
                rows=[r.model_dump() for r in self.rows],
                empty="No trigger fired in this period.",
            ),
            Table(
                name="destinations",
                title="Webhook deliveries by destination",
                columns=[
                    Column(key="destination", title="Destination"),
                    Column(key="attempts", title="Attempts", kind="int"),
                    Column(key="ok", title="Succeeded", kind="int"),
                    Column(key="success_rate", title="Success rate", kind="rate"),
                    Column(key="median_ms", title="Median ms", kind="score"),
                    Column(key="p90_ms", title="p90 ms", kind="score"),
                ],
                rows=[r.model_dump() for r in self.destinations],
                empty="No delivery attempt in this period.",
            ),
            Table(
                name="days",
                title="Delivery attempts by day (UTC)",
                columns=[
                    Column(key="day", title="Day"),
                    Column(key="delivered", title="Delivered", kind="int"),
                    Column(key="failed", title="Failed, retried", kind="int"),
                    Column(key="dead", title="Dead-lettered", kind="int"),
                ],
                rows=[r.model_dump() for r in self.days if r.delivered or r.failed or r.dead],
                empty="No delivery attempt in this period.",
            ),
            Table(
                name="statuses",
                title="Responses",
                columns=[Column(key="status", title="Response"), Column(key="attempts", title="Attempts", kind="int")],
                rows=[r.model_dump() for r in self.statuses],
                empty="No delivery attempt in this period.",
            ),
            Table(
                name="errors",
                title="Latest failed attempts",
                columns=[
                    Column(key="at", title="When"),
                    Column(key="trigger", title="Trigger"),
                    Column(key="destination", title="Destination"),
                    Column(key="lead_id", title="Lead"),
                    Column(key="attempt", title="Attempt", kind="int"),
                    Column(key="status_code", title="Status"),
                    Column(key="error", title="Error"),
                ],
                rows=[r.model_dump() for r in self.errors],
                empty="No failed attempt in this period.",
            ),
        ]

    def charts(self) -> list[Chart]:
        return [
            Chart(
                name="fired",
                title="Firings by trigger",
                kind="bar",
                x_label="Trigger",
                y_label="Firings",
                series=[
                    Series(name="fired", points=[(f"{r.trigger} → {r.destination}", float(r.fired)) for r in self.rows])
                ],
            ),
            Chart(
                name="health",
                title="Webhook deliveries per day",
                kind="stacked",
                x_label="Day (UTC)",
                y_label="Attempts per day",
                series=[
                    Series(name=name, points=[(r.day, float(getattr(r, key))) for r in self.days])
                    for key, name in (("delivered", "delivered"), ("failed", "failed"), ("dead", "dead-lettered"))
                ],
            ),
        ]


def triggers_report(conn: sa.Connection, f: ReportFilter, meta: ReportMeta, errors: int = 20) -> TriggersReport:
    o, d = outbox.c, deliveries.c
    dest = sa.func.coalesce(o.destination, "(none)")
    fired_q = (
        sa.select(
            o.trigger_id,
            dest,
            sa.func.count(),
            sa.func.count(sa.case((o.status == "delivered", 1))),
            sa.func.count(sa.case((o.status == "pending", 1))),
            sa.func.count(sa.case((o.status == "dead", 1))),
        )
        .where(o.created_at >= f.start_us, o.created_at < f.end_us, f.lead_condition(o.lead_id))
        .group_by(o.trigger_id, dest)
        .order_by(sa.func.count().desc(), o.trigger_id, dest)
    )
    rows = [
        TriggerRow(trigger=t, destination=ds, fired=n, delivered=dl, pending=p, dead=x)
        for t, ds, n, dl, p, x in conn.execute(fired_q)
    ]
    attempts = outbox.join(deliveries, d.outbox_id == o.id)
    in_period = sa.and_(d.at >= f.start_us, d.at < f.end_us, f.lead_condition(o.lead_id))
    health = _health(conn, f, attempts, in_period, dest)
    destinations = [
        DestinationRow(
            destination=ds,
            attempts=n,
            ok=ok,
            success_rate=rate(ok, n),
            median_ms=health.times.get(ds, {}).get(50),
            p90_ms=health.times.get(ds, {}).get(90),
        )
        for ds, n, ok in sorted(health.by_dest)
    ]
    statuses = [StatusRow(status=st, attempts=n) for st, n in sorted(health.statuses, key=lambda r: (-r[1], r[0]))]
    errs = [
        ErrorRow(at=iso(at), trigger=t, destination=ds, lead_id=lid, attempt=a, status_code=sc, error=e)
        for at, t, ds, lid, a, sc, e in conn.execute(
            sa.select(d.at, o.trigger_id, dest, o.lead_id, d.attempt, d.status_code, d.error)
            .select_from(attempts)
            .where(in_period, sa.not_(d.ok))
            .order_by(d.at.desc(), d.id.desc())
            .limit(errors)
        )
    ]
    return TriggersReport(
        days=_days(f, health.days),
        meta=meta,
        fired=sum(r.fired for r in rows),
        rows=rows,
        destinations=destinations,
        statuses=statuses,
        errors=errs,
    )


@dataclass
class _Health:
    by_dest: list[tuple[str, int, int]]  # destination, attempts, succeeded
    times: dict[Any, dict[int, float]]  # destination: {50: median ms, 90: p90 ms}
    statuses: list[tuple[str, int]]
    days: dict[int, tuple[int, int, int]]  # UTC day number: delivered, failed, dead-lettered


def _health(conn: sa.Connection, f: ReportFilter, attempts: Any, in_period: Any, dest: Any) -> _Health:
    """The period's attempts by destination (with latency percentiles), by response and by UTC day.

    One statement over the attempts, joined to their messages once (on SQLite a MATERIALIZED common
    table: each join reads the message row past its payload, which cost about a second per question
    at a million messages when every question joined again; PostgreSQL decides for itself)."""
    o, d = outbox.c, deliveries.c
    status = sa.case((d.status_code.is_not(None), sa.cast(d.status_code, sa.String)), else_="no response")
    # the attempt that gave a message up: a failure, the message's last attempt, the message dead
    dead = sa.and_(sa.not_(d.ok), o.status == "dead", d.attempt == o.attempts)
    rows = (
        sa.select(
            dest.label("dest"),
            d.ok.label("ok"),
            d.duration_ms.label("ms"),
            status.label("status"),
            int_div(d.at, DAY_US).label("day"),
            sa.case((dead, 1), else_=0).label("dead"),
        )
        .select_from(attempts)
        .where(in_period)
        .cte("attempts")
        .prefix_with("MATERIALIZED", dialect="sqlite")
    )
    a = rows.c
    text, number, real = sa.cast(sa.null(), sa.String), sa.cast(sa.null(), sa.BigInteger), sa.cast(sa.null(), sa.Float)
    ok = sa.func.count(sa.case((a.ok, 1)))
    by_dest = sa.select(sa.literal("dest"), a.dest, sa.func.count(), ok, number, number, real).group_by(a.dest)
    spans = sa.select(a.dest.label("g"), a.ms.label("ms")).subquery()
    ranks = rank_query(spans, "g", "ms").subquery()
    pcts = sa.select(sa.literal("pct"), ranks.c.g, ranks.c.rn, ranks.c.n, number, number, ranks.c.v)
    statuses = sa.select(sa.literal("status"), a.status, sa.func.count(), number, number, number, real).group_by(
        a.status
    )
    failed = sa.func.count(sa.case((sa.and_(sa.not_(a.ok), a.dead == 0), 1)))
    days = sa.select(
        sa.literal("day"), text, a.day, ok, failed, sa.func.count(sa.case((a.dead == 1, 1))), real
    ).group_by(a.day)
    out = _Health(by_dest=[], times={}, statuses=[], days={})
    rank_rows = []
    for kind, key, n1, n2, n3, n4, v in conn.execute(sa.union_all(by_dest, pcts, statuses, days)):
        if kind == "dest":
            out.by_dest.append((key, int(n1), int(n2)))
        elif kind == "pct":
            rank_rows.append((key, v, n1, n2))
        elif kind == "status":
            out.statuses.append((key, int(n1)))
        else:
            out.days[int(n1)] = (int(n2 or 0), int(n3 or 0), int(n4 or 0))
    out.times = pick_ranks(rank_rows)[0]
    return out


def _days(f: ReportFilter, found: dict[int, tuple[int, int, int]]) -> list[DayRow]:
    """Attempts per UTC day, every day of the period (zeros included) once there is one attempt."""
    if not found:
        return []
    first, last = f.start_us // DAY_US, (f.end_us - 1) // DAY_US
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    out = []
    for n in range(first, last + 1):
        delivered, failed, dead_n = found.get(n, (0, 0, 0))
        label = (epoch + timedelta(days=n)).date().isoformat()
        out.append(DayRow(day=label, delivered=delivered, failed=failed, dead=dead_n))
    return out
