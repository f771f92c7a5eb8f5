"""`leadscore sql --dialect postgres` run on a real PostgreSQL server equals the pure scorer, lifecycle included.

PostgreSQL has no array lambdas, so the lifecycle's fold over a lead's events is a recursive CTE there
(`sql/stage_fold.py`); these tests load generated leads and events into tables shaped as the query's
header says and compare every lead the query decides (`fallback` false) with `leadscore score`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import parse_timestamp, to_micros
from leadscore.engine import score_many
from leadscore.generate.api import sample
from leadscore.model import load_model, parse_model
from leadscore.sql.columns import SourceSchema
from leadscore.sql.dialects import infer_schema, scoring_sql
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

AT = "2026-06-01T00:00:00Z"
STATIC_LIFECYCLE = """
format: 1
name: static-lifecycle
dimensions: {fit: {}, engagement: {cap: 60}}
rules:
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 40}
  - {id: pricing, dimension: engagement, on: page_view, where: {page_type: pricing}, within: 90d, points: 10}
  - {id: ebook, dimension: engagement, on: ebook_download, decay: {half_life: 30d}, points: 20}
labels:
  size:
    - {label: large, when: {attribute: employees, gte: 1000}}
    - {label: other}
lifecycle:
  stages: [subscriber, lead, sql, opportunity, customer]
  exits: [recycled, lost]
  initial: subscriber
  transitions:
    - {to: lead, from: subscriber, when: {attribute: seniority, in: [director, vp, c-level]}}
    - {to: sql, on: sales_accepted}
    - {to: recycled, on: sales_rejected}
    - {to: lead, from: recycled, when: {attribute: employees, gte: 50}}
    - {to: opportunity, on: opportunity_created, from: [sql]}
    - {to: customer, on: deal_won}
    - {to: lost, on: deal_lost}
playbooks:
  - {when: {stage: sql}, action: call, priority: 1}
  - {when: {all: [{stage: {in: [lead, subscriber]}}, {label: size, eq: large}]}, action: nurture}
"""


def _pg_type(kind: str) -> str:
    return {"num": "double precision", "str": "text", "bool": "boolean"}.get(kind, "text")


def _load(conn: Any, schema: SourceSchema, leads: list[Lead], events: list[Event]) -> None:
    lead_cols = [(s.column, name, s.kind) for name, slots in schema.leads.slots.items() for s in slots]
    ev_cols = [(s.column, name, s.kind) for name, slots in schema.events.slots.items() for s in slots]
    conn.execute("DROP TABLE IF EXISTS leads; DROP TABLE IF EXISTS events")
    conn.execute("CREATE TABLE leads (id text" + "".join(f', "{c}" {_pg_type(k)}' for c, _, k in lead_cols) + ")")
    conn.execute(
        'CREATE TABLE events (id text, lead_id text, type text, "timestamp" timestamptz'
        + "".join(f', "{c}" {_pg_type(k)}' for c, _, k in ev_cols)
        + ")"
    )

    def value(v: Any, kind: str) -> Any:
        ok = {"num": (int, float), "str": (str,), "bool": (bool,)}[kind]
        return v if isinstance(v, ok) and not (kind == "num" and isinstance(v, bool)) else None

    with conn.cursor().copy("COPY leads FROM STDIN") as copy:
        for lead in leads:
            copy.write_row([lead.id, *(value(lead.attributes.get(n), k) for _, n, k in lead_cols)])
    with conn.cursor().copy("COPY events FROM STDIN") as copy:
        for e in events:
            copy.write_row(
                [e.id, e.lead_id, e.type, e.timestamp, *(value(e.properties.get(n), k) for _, n, k in ev_cols)]
            )


@pytest.fixture(scope="module")
def pg(postgres_url: str) -> Iterator[Any]:
    import psycopg

    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS sqlcheck CASCADE; CREATE SCHEMA sqlcheck; SET search_path = sqlcheck")
        conn.execute("SET TimeZone = 'UTC'")
        yield conn


def _compare(pg: Any, model: Any, leads: list[Lead], events: list[Event]) -> tuple[int, int]:
    """(leads decided by the SQL, leads in all); asserts every decided lead equals the pure scorer."""
    schema = infer_schema(model)
    _load(pg, schema, leads, events)
    sql, plan = scoring_sql(model, "postgres", to_micros(parse_timestamp(AT)), schema)
    cur = pg.execute(sql)
    names = [d.name for d in cur.description]
    rows = {r["lead_id"]: r for r in (dict(zip(names, row, strict=True)) for row in cur.fetchall())}
    expected = {r.lead_id: r for r in score_many(model, leads, events, AT)}
    assert set(rows) == set(expected)
    decided = 0
    for lead_id, want in expected.items():
        got = rows[lead_id]
        if got["fallback"]:
            continue
        decided += 1
        assert math.isclose(got["score"], want.score, rel_tol=1e-9, abs_tol=1e-9), lead_id
        assert got["stage"] == want.stage, (lead_id, got["stage"], want.stage)
        labels = {name: got[f"label_{i}"] for i, name in enumerate(plan.label_sets)}
        assert labels == dict(want.labels), lead_id
        index = want.playbook.index if want.playbook else None
        assert got["playbook"] == index, lead_id
    return decided, len(expected)


def _data() -> tuple[list[Lead], list[Event]]:
    leads, events = sample("b2b", 300, seed=7, end=AT)
    return leads, [e for e in events if e.id is not None]


def test_event_and_attribute_transitions_fold_in_postgres(pg: Any) -> None:
    leads, events = _data()
    decided, total = _compare(pg, parse_model(STATIC_LIFECYCLE), leads, events)
    assert decided == total  # only attribute-driven automatic transitions: every lead is decided in SQL
    stages = {r.stage for r in score_many(parse_model(STATIC_LIFECYCLE), leads, events, AT)}
    assert len(stages) >= 4, stages  # the data really moves leads through the lifecycle


def test_example_b2b_model_in_postgres(pg: Any) -> None:
    """Score-driven transitions: the leads the bounds decide are exact, the rest are flagged `fallback`."""
    leads, events = _data()
    decided, total = _compare(pg, load_model(ROOT / "examples" / "b2b-saas" / "model.yaml"), leads, events)
    assert 0 < decided <= total
