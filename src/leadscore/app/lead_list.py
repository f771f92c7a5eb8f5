"""Listing leads: filters, a stable sort and keyset (cursor) pagination, on both backends.

Every filter, the sort and the cursor are one SQL query (a page costs one query whatever the
store holds). Labels and the text search look into JSON documents, whose functions differ between
SQLite (`json_extract`, `json_each`) and PostgreSQL (`->>`, `jsonb_each`): those two conditions are
built per dialect, everything else is the same SQLAlchemy Core on both.

- `label`: `set:label` is that label; `set` alone is any label of that set.
- `q`: case-insensitive (Python's `str.lower`, on both databases) text in the id or in an attribute
  whose value is text.
- Sorts end with the lead id, so the order is total and a cursor (the last row's sort key) is exact.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from leadscore.app.errors import InvalidInput
from leadscore.app.results import iso
from leadscore.store.tables import leads, results

Sort = Literal["score_desc", "score_asc", "id", "updated_desc"]


class LeadFilter(BaseModel):
    label: str | None = None  # "temperature:hot" (label set, then label)
    stage: str | None = None
    playbook: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    account: str | None = None
    q: str | None = None  # a substring of the id or of a text attribute value (case-insensitive)


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


def _fold(value: Any) -> str | None:
    """Python's case folding for SQLite (whose own lower() folds ASCII letters only)."""
    return None if value is None else str(value).lower()


def _icu(conn: Connection) -> bool:
    """Whether PostgreSQL has the ICU root collation: its lower() folds as Python does, whatever the
    database's own locale (lower() under the C locale folds ASCII letters only)."""
    key = str(conn.engine.url)
    if key not in _ICU:
        _ICU[key] = bool(
            conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')")).scalar()
        )
    return _ICU[key]


_ICU: dict[str, bool] = {}
_PLAIN_RUN = re.compile(r"[ !#-\[\]-~]+")  # printable ASCII but `"` and `\`
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\- .:]{1,100}$")


def _label(conn: Connection, name: str, value: str | None) -> Any:
    """The result's label in set `name` is `value` (any label when `value` is None)."""
    if conn.dialect.name == "sqlite" and _PLAIN_KEY.match(name):
        text = sa.func.json_extract(results.c.labels, f'$."{name}"')
        return text == value if value else text.is_not(None)
    if conn.dialect.name == "sqlite":
        # json_each, not a JSON path: a SQLite path has no escapes, and the stored keys hold \u escapes
        # for non-ASCII characters, so only plain ASCII keys can be looked up by path (above)
        each = sa.func.json_each(results.c.labels).table_valued("key", "value", "type")
        found = sa.select(1).select_from(each).where(each.c.key == name)
        found = (
            found.where(each.c.type == "text", each.c.value == value) if value else found.where(each.c.type != "null")
        )
        return found.exists()
    by_key = results.c.labels.op("->>")(sa.bindparam(None, name, type_=sa.String))
    return by_key == value if value else by_key.is_not(None)


def _sqlite_fold(expr: Any) -> Any:
    """Python's lower() of `expr`; SQLite's own lower() where the text is ASCII (the same there, and
    without a call into Python per value)."""
    ascii_only = sa.func.length(expr) == sa.func.length(sa.cast(expr, sa.LargeBinary))
    return sa.case((ascii_only, sa.func.lower(expr)), else_=sa.func.ls_fold(expr))


def _document_may_hold(dialect: str, run: str) -> Any:
    """A cheap test that every lead with an attribute value whose lower case holds `run` passes
    (others may too); `run` is the needle's longest run of printable ASCII without `"` or `\\`.

    Where a value's lower case holds such a run, the value has those ASCII characters, which the
    stored JSON text keeps as they are, so the ASCII lower case of the whole document holds the run
    too (SQLite's lower() folds ASCII only; PostgreSQL's under the "C" collation, whatever the
    database's locale). The two characters outside ASCII whose lower case holds ASCII letters
    (U+0130 to `i̇`, U+212A KELVIN SIGN to `k`) are mapped first, raw or `\\u`-escaped. The exact
    test (each text value) then runs only on the leads this one lets through.
    """
    if dialect == "sqlite":
        doc: Any = sa.func.lower(sa.type_coerce(leads.c.attributes, sa.Text))
    else:
        doc = sa.func.lower(sa.collate(sa.cast(leads.c.attributes, sa.Text), "C"))
    for found, meant in (("\\u0130", "i"), ("\\u212a", "k"), ("\u0130", "i"), ("\u212a", "k")):
        if meant in run:  # a match without that letter cannot hold the character's lower case
            doc = sa.func.replace(doc, found, meant)
    return sa.func.strpos(doc, run) > 0 if dialect != "sqlite" else sa.func.instr(doc, run) > 0


def _text_search(conn: Connection, needle: str) -> Any:
    """`needle` (case-insensitive) in the lead id or in a text attribute value.

    Numbers, true/false, null and nested documents are left out: their text differs between SQLite,
    PostgreSQL and Python (`1e20`, `0.1 + 0.2`, `True`), so no search of them could agree.
    """
    folded = needle.lower()
    run = max(_PLAIN_RUN.findall(folded), key=len, default="")
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        raw.create_function("ls_fold", 1, _fold, deterministic=True)  # type: ignore[union-attr]
        each = sa.func.json_each(leads.c.attributes).table_valued("value", "type")
        in_value: Any = (
            sa.select(1)
            .select_from(each)
            .where(each.c.type == "text", sa.func.instr(_sqlite_fold(each.c.value), folded) > 0)
            .exists()
        )
        if run:
            in_value = sa.and_(_document_may_hold("sqlite", run), in_value)
        return sa.or_(sa.func.instr(_sqlite_fold(leads.c.id), folded) > 0, in_value)

    def lower(expr: Any) -> Any:
        return sa.func.lower(sa.collate(expr, "und-x-icu") if _icu(conn) else expr)

    each = sa.func.jsonb_each(leads.c.attributes).table_valued("value")
    text = each.c.value.op("#>>")(sa.literal_column("'{}'"))
    in_value = (
        sa.select(1)
        .select_from(each)
        .where(sa.func.jsonb_typeof(each.c.value) == "string", sa.func.strpos(lower(text), folded) > 0)
        .exists()
    )
    if run:
        in_value = sa.and_(_document_may_hold("postgresql", run), in_value)
    return sa.or_(sa.func.strpos(lower(leads.c.id), folded) > 0, in_value)


def conditions(conn: Connection, f: LeadFilter) -> list[Any]:
    """The filter as SQL conditions on leads LEFT JOIN results."""
    out: list[Any] = []
    if f.stage is not None:
        out.append(results.c.stage == f.stage)
    if f.account is not None:
        out.append(leads.c.account == f.account)
    if f.min_score is not None:
        out.append(results.c.score >= f.min_score)
    if f.max_score is not None:
        out.append(results.c.score <= f.max_score)
    if f.label is not None:
        name, _, value = f.label.partition(":")
        out.append(_label(conn, name, value or None))
    if f.playbook is not None:
        out.append(results.c.playbook["name"].as_string() == f.playbook)
    if f.q:
        out.append(_text_search(conn, f.q))
    return out


def list_leads(conn: Connection, f: LeadFilter, sort: Sort, limit: int, cursor: str | None) -> LeadPage:
    """One page: `limit` leads after the cursor, and a cursor when more follow (one query, one row more
    than the page to know)."""
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
    query = query.where(*conditions(conn, f))
    if cursor:
        query = query.where(_after(sort, decode_cursor(sort, cursor)))
    rows = conn.execute(query.order_by(*_columns(sort)).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return LeadPage(
        items=[_summary(row) for row in rows],
        next_cursor=encode_cursor(sort, _position(sort, rows[-1])) if more else None,
    )


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
