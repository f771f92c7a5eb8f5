"""Listing leads: filters, a stable sort and keyset (cursor) pagination, on both backends.

Stage, account and the score range are filtered in SQL. Labels, playbook and text search look
into JSON documents whose operators differ between SQLite and PostgreSQL, so they are checked
here on the rows the SQL returns, page by page, up to `MAX_SCANNED` rows per request; a page
cut short by that bound still carries a cursor to continue from.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from leadscore.app.errors import InvalidInput
from leadscore.app.results import iso
from leadscore.store.tables import leads, results

Sort = Literal["score_desc", "score_asc", "id", "updated_desc"]
MAX_SCANNED = 20_000
_CHUNK = 500


class LeadFilter(BaseModel):
    label: str | None = None  # "temperature:hot" (label set, then label)
    stage: str | None = None
    playbook: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    account: str | None = None
    q: str | None = None  # a substring of the id or of any attribute value (case-insensitive)


class LeadSummary(BaseModel):
    id: str
    account: str | None = None
    attributes: dict[str, Any]
    score: float | None = None
    dimensions: dict[str, float] = {}
    labels: dict[str, str | None] = {}
    stage: str | None = None
    playbook: str | None = None
    evaluated_at: str | None = None
    updated_at: str


class LeadPage(BaseModel):
    items: list[LeadSummary]
    next_cursor: str | None = None


def _columns(sort: Sort) -> list[Any]:
    score = sa.func.coalesce(results.c.score, 0.0)
    if sort == "score_desc":
        return [score.desc(), leads.c.id]
    if sort == "score_asc":
        return [score.asc(), leads.c.id]
    if sort == "updated_desc":
        return [leads.c.updated_at.desc(), leads.c.id]
    return [leads.c.id]


def _after(sort: Sort, cursor: list[Any]) -> Any:
    """Rows strictly after the cursor's position in the sort order."""
    score = sa.func.coalesce(results.c.score, 0.0)
    if sort == "id":
        return leads.c.id > cursor[0]
    value, lead_id = cursor
    if sort == "score_desc":
        return sa.or_(score < value, sa.and_(score == value, leads.c.id > lead_id))
    if sort == "score_asc":
        return sa.or_(score > value, sa.and_(score == value, leads.c.id > lead_id))
    return sa.or_(leads.c.updated_at < value, sa.and_(leads.c.updated_at == value, leads.c.id > lead_id))


def _position(sort: Sort, row: Any) -> list[Any]:
    if sort == "id":
        return [row.id]
    if sort == "updated_desc":
        return [row.updated_at, row.id]
    return [row.score if row.score is not None else 0.0, row.id]


def encode_cursor(sort: Sort, position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort, *position]).encode()).decode().rstrip("=")


def decode_cursor(sort: Sort, text: str) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        ok = isinstance(data, list) and data[0] == sort and len(data) == (2 if sort == "id" else 3)
        ok = ok and isinstance(data[-1], str) and (sort == "id" or isinstance(data[1], int | float))
    except (ValueError, TypeError, IndexError):
        ok = False
    if not ok:
        raise InvalidInput("the cursor is not one this listing returned (with the same sort)", field="cursor")
    return list(data[1:])


def _matches(f: LeadFilter, row: Any) -> bool:
    if f.label is not None:
        name, _, value = f.label.partition(":")
        if (row.labels or {}).get(name) != (value or None) and not (not value and name in (row.labels or {})):
            return False
    if f.playbook is not None and ((row.playbook or {}).get("name") != f.playbook):
        return False
    if f.q:
        needle = f.q.lower()
        hay = [row.id, *(str(v) for v in (row.attributes or {}).values())]
        if not any(needle in h.lower() for h in hay):
            return False
    return True


def list_leads(conn: Connection, f: LeadFilter, sort: Sort, limit: int, cursor: str | None) -> LeadPage:
    query = sa.select(
        leads.c.id,
        leads.c.account,
        leads.c.attributes,
        leads.c.updated_at,
        results.c.score,
        results.c.dimensions,
        results.c.labels,
        results.c.stage,
        results.c.playbook,
        results.c.evaluated_at,
    ).select_from(leads.outerjoin(results, results.c.lead_id == leads.c.id))
    if f.stage is not None:
        query = query.where(results.c.stage == f.stage)
    if f.account is not None:
        query = query.where(leads.c.account == f.account)
    if f.min_score is not None:
        query = query.where(results.c.score >= f.min_score)
    if f.max_score is not None:
        query = query.where(results.c.score <= f.max_score)
    position = decode_cursor(sort, cursor) if cursor else None
    query = query.order_by(*_columns(sort))
    items: list[LeadSummary] = []
    scanned = 0
    last: list[Any] | None = None
    exhausted = False
    while len(items) < limit and scanned < MAX_SCANNED:
        page = query.where(_after(sort, position)) if position is not None else query
        rows = conn.execute(page.limit(_CHUNK)).all()
        if not rows:
            exhausted = True
            break
        for row in rows:
            scanned += 1
            position = last = _position(sort, row)
            if _matches(f, row):
                items.append(_summary(row))
                if len(items) == limit:
                    break
        if len(rows) < _CHUNK and len(items) < limit:
            exhausted = True
            break
    more = not exhausted and last is not None
    return LeadPage(items=items, next_cursor=encode_cursor(sort, last) if more and last is not None else None)


def _summary(row: Any) -> LeadSummary:
    return LeadSummary(
        id=row.id,
        account=row.account,
        attributes=row.attributes or {},
        score=row.score,
        dimensions=row.dimensions or {},
        labels=row.labels or {},
        stage=row.stage,
        playbook=(row.playbook or {}).get("name"),
        evaluated_at=iso(row.evaluated_at),
        updated_at=iso(row.updated_at) or "",
    )
