"""The sales queue as a page: filters, search and keyset paging that stay fast with a million leads.

Order: playbook priority (`queue_rank`), score (highest first), lead id: the `ix_results_queue` index.
A page after a cursor (rank r, score s, id i) is read as three index ranges, each with its own LIMIT:
same rank and score with a larger id; same rank with a lower score; any larger rank. Each range starts
where the index says, so page 5,000 costs what page 1 costs. Filters are conditions on the same rows
(rare filters make the database scan further along the index; see docs/dashboard.md).
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from leadscore.analytics.common import DAY_US, AnalyticsError, iso
from leadscore.store.tables import events, leads, results, score_history

PAGE_SIZES = (25, 50, 100)
TREND_DAYS = 7


PROBE = 5000  # a filter that keeps at most this many leads is answered from its own index


def attribute_key(dialect: str, name: str, lower: bool = False) -> sa.ColumnElement[Any]:
    """A lead attribute as text, written exactly as migration 0008 indexes it (a bound JSON path or a
    different spelling would not match the index). PostgreSQL compares it byte by byte (`COLLATE "C"`),
    as SQLite does, so that the values starting with a prefix are one range of the index."""
    if dialect == "postgresql":
        value: sa.ColumnElement[Any] = leads.c.attributes.op("->>")(sa.literal_column(f"'{name}'"))
        return sa.collate(sa.func.lower(value), "C") if lower else value
    value = sa.func.json_extract(leads.c.attributes, sa.literal_column(f"'$.{name}'"))
    return sa.func.lower(value) if lower else value


def starts_with(column: sa.ColumnElement[Any], prefix: str) -> sa.ColumnElement[bool]:
    """`column` starts with `prefix`, as an index range (byte order on both dialects): LIKE would read
    the whole index on SQLite and needs a pattern operator class on PostgreSQL."""
    cond = column >= prefix
    if prefix and ord(prefix[-1]) < 0x10FFFF:
        cond = sa.and_(cond, column < prefix[:-1] + chr(ord(prefix[-1]) + 1))
    return cond


class QueueFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = None  # "SET:LABEL", e.g. "temperature:hot"
    stage: str | None = None
    playbook: str | None = None
    owner: str | None = None
    account: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    q: str | None = Field(default=None, max_length=200)

    def conditions(self, dialect: str = "sqlite") -> list[sa.ColumnElement[bool]]:
        out: list[sa.ColumnElement[bool]] = []
        if self.label:
            name, sep, value = self.label.partition(":")
            if not sep or not name or not value:
                raise AnalyticsError(f"label {self.label!r}: expected SET:LABEL, e.g. temperature:hot")
            out.append(results.c.labels[name].as_string() == value)
        if self.stage:
            out.append(results.c.stage == self.stage)
        if self.playbook:
            out.append(results.c.playbook["name"].as_string() == self.playbook)
        if self.owner:
            out.append(attribute_key(dialect, "owner") == self.owner)
        if self.account:
            out.append(leads.c.account == self.account)
        if self.min_score is not None:
            out.append(results.c.score >= self.min_score)
        if self.max_score is not None:
            out.append(results.c.score <= self.max_score)
        if self.q and self.q.strip():
            out.append(sa.or_(*self.search(dialect)))
        return out

    def search(self, dialect: str) -> list[sa.ColumnElement[bool]]:
        """What `q` matches: the start of the lead id, of the account, of the e-mail address or of the
        company name (the last three without regard to case). Each is a range of an index."""
        text = (self.q or "").strip()
        low = text.lower()
        return [
            starts_with(results.c.lead_id, text),
            starts_with(leads.c.account, low),
            starts_with(attribute_key(dialect, "email", lower=True), low),
            starts_with(attribute_key(dialect, "company", lower=True), low),
        ]

    def probes(self, dialect: str) -> list[list[sa.Select[Any]]]:
        """For the filters an index can answer alone, the queries of the ids of the leads each keeps: a
        filter keeps the union of its queries (a search matches on any of four indexes)."""
        out: list[list[sa.Select[Any]]] = []
        if self.owner:
            out.append([sa.select(leads.c.id).where(attribute_key(dialect, "owner") == self.owner)])
        if self.account:
            out.append([sa.select(leads.c.id).where(leads.c.account == self.account)])
        if self.q and self.q.strip():
            lead, account, email, company = self.search(dialect)
            out.append(
                [
                    sa.select(results.c.lead_id).where(lead),
                    *(sa.select(leads.c.id).where(cond) for cond in (account, email, company)),
                ]
            )
        return out


class QueueRow(BaseModel):
    lead_id: str
    score: float
    dimensions: dict[str, float]
    labels: dict[str, str | None]
    stage: str | None
    playbook: str | None
    priority: int | None
    action: str | None
    content: list[str]
    account: str | None
    name: str | None
    company: str | None
    title: str | None
    owner: str | None
    employees: Any = None
    last_activity: str | None = None
    trend: float | None = None
    sparkline: list[float] = []


class QueuePage(BaseModel):
    rows: list[QueueRow]
    next_cursor: str | None
    limit: int


def encode_cursor(rank: int, score: float, lead_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([rank, score, lead_id]).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, float, str]:
    try:
        rank, score, lead_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if isinstance(rank, int) and isinstance(score, int | float) and isinstance(lead_id, str):
            return rank, float(score), lead_id
    except (ValueError, TypeError):
        pass
    raise AnalyticsError("the page cursor is not one this queue gave out; start again from the first page")


_COLUMNS = (
    results.c.lead_id,
    results.c.queue_rank,
    results.c.score,
    results.c.dimensions,
    results.c.labels,
    results.c.stage,
    results.c.playbook,
    leads.c.account,
    leads.c.attributes,
)


def _ordered(q: sa.Select[Any]) -> sa.Select[Any]:
    return q.order_by(results.c.queue_rank, results.c.score.desc(), results.c.lead_id)


def queue_page(
    conn: sa.Connection, f: QueueFilter, now_us: int, limit: int = 50, cursor: str | None = None
) -> QueuePage:
    if limit not in PAGE_SIZES:
        raise AnalyticsError(f"page size {limit}: expected one of {', '.join(map(str, PAGE_SIZES))}")
    dialect = conn.dialect.name
    base = (
        sa.select(*_COLUMNS)
        .select_from(results.join(leads, leads.c.id == results.c.lead_id))
        .where(*f.conditions(dialect))
    )
    few = _few(conn, f, dialect)
    if few is not None:
        if not few:
            return QueuePage(rows=[], next_cursor=None, limit=limit)
        base = base.where(results.c.lead_id.in_(few))
    take = limit + 1
    if cursor is None:
        rows = conn.execute(_ordered(base).limit(take)).all()
    else:
        rank, score, lead_id = decode_cursor(cursor)
        r, s, i = results.c.queue_rank, results.c.score, results.c.lead_id
        parts = [
            _ordered(base.where(r == rank, s == score, i > lead_id)).limit(take),
            _ordered(base.where(r == rank, s < score)).limit(take),
            _ordered(base.where(r > rank)).limit(take),
        ]
        union = sa.union_all(*[sa.select(p.subquery()) for p in parts]).subquery()
        rows = conn.execute(
            sa.select(union).order_by(union.c.queue_rank, union.c.score.desc(), union.c.lead_id).limit(take)
        ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row.lead_id for row in rows]
    activity = _last_activity(conn, ids)
    trends = _trends(conn, ids, now_us)
    out = []
    for row in rows:
        a = row.attributes or {}
        pb = row.playbook or {}
        name = " ".join(str(a[k]) for k in ("first_name", "last_name") if a.get(k)) or a.get("name") or a.get("email")
        trend, spark = trends.get(row.lead_id, (None, []))
        out.append(
            QueueRow(
                lead_id=row.lead_id,
                score=row.score,
                dimensions=row.dimensions or {},
                labels=row.labels or {},
                stage=row.stage,
                playbook=pb.get("name"),
                priority=pb.get("priority"),
                action=pb.get("action"),
                content=list(pb.get("content") or []),
                account=row.account,
                name=name,
                company=a.get("company"),
                title=a.get("job_title"),
                owner=a.get("owner"),
                employees=a.get("employees"),
                last_activity=iso(activity.get(row.lead_id)),
                trend=trend,
                sparkline=spark,
            )
        )
    last = rows[-1] if rows else None
    nxt = encode_cursor(last.queue_rank, last.score, last.lead_id) if more and last is not None else None
    return QueuePage(rows=out, next_cursor=nxt, limit=limit)


def _few(conn: sa.Connection, f: QueueFilter, dialect: str) -> list[str] | None:
    """The ids of the leads a selective filter keeps, when one keeps at most PROBE of them (read on its
    index); None when none does. Walking the queue in order finds the rows of a common filter at once,
    but reads the whole queue for a filter that matches little or nothing: the few ids are read first,
    and the page is then sorted from them."""
    best: list[str] | None = None
    for queries in f.probes(dialect):
        found: set[str] = set()
        for query in queries:  # each on its own index, stopping as soon as the filter is not selective
            found.update(conn.execute(query.limit(PROBE + 1)).scalars())
            if len(found) > PROBE:
                break
        if len(found) <= PROBE and (best is None or len(found) < len(best)):
            best = sorted(found)
    return best


def _last_activity(conn: sa.Connection, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    q = (
        sa.select(events.c.lead_id, sa.func.max(events.c.ts))
        .where(events.c.lead_id.in_(ids))
        .group_by(events.c.lead_id)
    )
    out: dict[str, int] = {}
    for lead_id, ts in conn.execute(q).all():
        out[lead_id] = ts
    return out


def _trends(conn: sa.Connection, ids: list[str], now_us: int) -> dict[str, tuple[float | None, list[float]]]:
    """Score change over the last week (from the score history) and the last twelve scores."""
    if not ids:
        return {}
    sh = score_history.c
    q = sa.select(sh.lead_id, sh.at, sh.score).where(sh.lead_id.in_(ids)).order_by(sh.lead_id, sh.at, sh.id)
    by_lead: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for lead_id, at, score in conn.execute(q):
        by_lead[lead_id].append((at, score))
    cut = now_us - TREND_DAYS * DAY_US
    out: dict[str, tuple[float | None, list[float]]] = {}
    for lead_id, points in by_lead.items():
        before = [s for at, s in points if at <= cut]
        now = points[-1][1]
        out[lead_id] = (round(now - before[-1], 2) if before else None, [round(s, 1) for _, s in points[-12:]])
    return out
