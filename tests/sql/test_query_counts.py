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


KEPT = parse_model(
    """
format: 1
name: kept
rules:
  - {id: recent, when: {last: visit, newer_than: 7d}, points: 4}
  - {id: spent, when: {sum: amount, of: buy, within: 30d, gt: 10}, points: 3}
  - {id: mean, when: {avg: amount, of: buy, gte: 6}, points: 2}
  - {id: top, when: {max: amount, of: buy, gte: 9}, points: 1}
"""
)
DAY = 86_400_000_000


def test_clustered_duckdb_query_keeps_values_by_case_not_filter() -> None:
    """Clustered, the latest time and the sums, averages and maxima of a property take the CASE form, as
    the counts take count_if; spread, their FILTER clauses stay."""
    clustered = build_query(KEPT, infer_schema(KEPT), AT, clustered=True).sql
    assert "FILTER (WHERE" not in clustered
    assert "max(CASE WHEN _ls_f" in clustered
    assert "fsum(CASE WHEN _ls_f" in clustered
    spread = build_query(KEPT, infer_schema(KEPT), AT).sql
    assert "max(_ls_ts) FILTER (WHERE _ls_f" in spread
    assert "fsum(CAST(" in spread and "FILTER (WHERE _ls_f" in spread


def test_both_forms_score_the_same() -> None:
    """Hand-computed: lead a visited 2 days ago and bought 4 + 8 within 30 days (sum 12 > 10, avg 6,
    max 8 < 9): 4 + 3 + 2 = 9; lead b bought 9 once 40 days ago (sum within 30d 0, avg 9, max 9): 2 + 1 = 3;
    lead c has no event: 0."""
    duckdb = pytest.importorskip("duckdb")
    from leadscore.sql.columns import Slot, SourceSchema, TableSchema

    schema = SourceSchema(
        events=TableSchema({"amount": (Slot("amount::num", "num"),)}), leads=TableSchema({}), has_ord=False
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE leads AS SELECT * FROM (VALUES ('a'), ('b'), ('c')) AS t(id)")
    rows = [("a", "visit", 2, None), ("a", "buy", 3, 4.0), ("a", "buy", 5, 8.0), ("b", "buy", 40, 9.0)]
    con.execute(
        'CREATE TABLE events (lead_id VARCHAR, type VARCHAR, "timestamp" TIMESTAMPTZ, id VARCHAR, "amount::num" DOUBLE)'
    )
    for n, (lead, typ, days, amount) in enumerate(rows):
        con.execute(
            "INSERT INTO events VALUES (?, ?, make_timestamptz(CAST(? AS BIGINT)), ?, ?)",
            [lead, typ, AT - days * DAY, f"e{n}", amount],
        )
    scores = []
    for clustered in (True, False):
        sql = build_query(KEPT, schema, AT, clustered=clustered).sql
        scores.append(con.execute(f"SELECT lead_id, score FROM ({sql}) ORDER BY lead_id").fetchall())
    assert scores[0] == scores[1] == [("a", 9.0), ("b", 3.0), ("c", 0.0)]
