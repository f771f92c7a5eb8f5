"""The in-database query tests an event's type by a code the events view computes once per event."""

from __future__ import annotations

import re

import sqlglot

from leadscore.bulk.in_database import scoring_statement
from leadscore.bulk.in_database_sql import _coded_types, postgres_sql
from leadscore.bulk.in_database_views import TYPE_CODE, model_names, source_schema, type_code_sql
from leadscore.model import parse_model
from leadscore.sql.query import build_query
from leadscore.store.pipeline import Evaluator

AT = 1_780_000_000_000_000

MODEL = """
format: 1
name: types
rules:
  - {id: visit, on: page_view, points: 5, within: 30d, limit: 40}
  - {id: pricing, on: page_view, where: {path: {contains: pricing}}, points: 20, decay: {half_life: 7d}}
  - {id: social, on: [social_like, social_share], points: 2, within: 90d}
  - {id: demo, on: demo_request, points: 40, once: true}
  - {id: quiet, when: {none: [page_view, email_open], within: 14d}, points: -10}
"""


def _codes(sql: str) -> dict[str, int]:
    """The view's CASE as type -> code."""
    case = re.search(r"\(CASE type (.*?) ELSE 0 END\) AS " + TYPE_CODE, sql)
    assert case is not None
    return {t: int(c) for t, c in re.findall(r"WHEN '([^']*)' THEN (\d+)", case.group(1))}


def test_every_type_test_of_the_flags_reads_the_code_the_view_gives_that_type() -> None:
    evaluator = Evaluator(parse_model(MODEL))
    sql, _plan = scoring_statement(evaluator, AT)
    codes = _codes(sql)
    assert set(codes) == {"page_view", "social_like", "social_share", "demo_request", "email_open"}
    assert len(set(codes.values())) == len(codes) and 0 not in codes.values()
    query = sql[sql.index("_ls_ev AS") :]
    # no event type is compared as text any more past the views ...
    assert not re.search(r"\btype (=|IN) ", query)
    # ... and each rule's test names the code of its own type(s)
    tested = set(re.findall(r"_ls_type = (\d+)", query))
    tested |= {n for group in re.findall(r"_ls_type IN \(([^)]*)\)", query) for n in group.split(", ")}
    assert tested == {str(c) for c in codes.values()}
    assert f"_ls_type = {codes['demo_request']}" in query
    assert re.search(rf"_ls_type IN \({codes['social_like']}, {codes['social_share']}\)", query)


def test_a_type_the_model_never_names_gets_code_zero_never_null() -> None:
    assert type_code_sql({}) == "0"
    case = type_code_sql({"a": 1, "it's": 2})
    assert case == "(CASE type WHEN 'a' THEN 1 WHEN 'it''s' THEN 2 ELSE 0 END)"


def test_only_tests_over_the_events_relations_are_rewritten() -> None:
    sql = (
        "WITH e1 AS (SELECT *, 1 AS x FROM _lsv_events OFFSET 0), "
        "j AS (SELECT e1.type = 'a' AS ja FROM e1 JOIN leads AS l ON l.id = e1.lead_id), "
        "p AS (SELECT lead_id, type FROM e1), "
        "q AS (SELECT type = 'b' AS qb, NOT type IN ('a', 'c') AS qc FROM p) "
        "SELECT type = 'a' AS f, e.type IN ('b', 'c') AS g FROM e1 AS e"
    )
    codes: dict[str, int] = {}
    out = _coded_types(sqlglot.parse_one(sql), codes).sql(dialect="postgres")
    assert codes == {"a": 1, "b": 2, "c": 3}
    # the last SELECT reads the events (through e1, which keeps every column): coded, qualifier kept
    assert "_ls_type = 1 AS f" in out and "e._ls_type IN (2, 3) AS g" in out
    # a join, and a relation that picked its columns, keep the text tests
    assert "e1.type = 'a' AS ja" in out
    assert "type = 'b' AS qb" in out and "NOT type IN ('a', 'c') AS qc" in out


def test_the_query_without_codes_is_unchanged() -> None:
    model = parse_model(MODEL)
    schema = source_schema(model_names(model))
    plan = build_query(model, schema, AT, flavor="portable", dedupe=False, event_leads=False, next_change=True)
    plain = postgres_sql(plan.sql)
    assert TYPE_CODE not in plain and "type = 'demo_request'" in plain
