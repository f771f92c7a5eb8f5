"""The form of the scoring query's counts (`build_query(clustered=...)`): `count_if` for events that come
lead by lead, FILTER clauses otherwise, and only DuckDB's query ever takes `count_if`."""

from __future__ import annotations

import pytest

from leadscore.model import parse_model
from leadscore.sql.dialects import infer_schema
from leadscore.sql.query import build_query

MODEL = parse_model(
    """
format: 1
name: counts
rules:
  - {id: visits, on: visit, within: 30d, points: 2}
  - {id: busy, when: {count: visit, within: 7d, gte: 3}, points: 5}
  - {id: quiet, when: {none: click, within: 60d}, points: -3}
"""
)
AT = 1_780_272_000_000_000


def test_clustered_duckdb_query_counts_with_count_if() -> None:
    sql = build_query(MODEL, infer_schema(MODEL), AT, clustered=True).sql
    assert "count_if(_ls_f" in sql
    assert "count(*) FILTER (WHERE _ls_f" not in sql


def test_spread_duckdb_query_keeps_filter_clauses() -> None:
    sql = build_query(MODEL, infer_schema(MODEL), AT).sql
    assert "count(*) FILTER (WHERE _ls_f" in sql
    assert "count_if(" not in sql


@pytest.mark.parametrize("flavor", ["spark", "portable"])
def test_other_dialects_never_take_count_if(flavor: str) -> None:
    sql = build_query(MODEL, infer_schema(MODEL), AT, flavor=flavor, clustered=True).sql  # type: ignore[arg-type]
    assert "count_if(" not in sql
    assert "FILTER (WHERE _ls_f" in sql
