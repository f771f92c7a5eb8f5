"""A clamped dimension is its bound exactly on every batch engine: DuckDB, the SQL of each dialect
run where it can run (DuckDB, PostgreSQL), and Spark. Hand-computed cases (tests/support/thresholds.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leadscore.batch import run_batch
from leadscore.domain.timeutil import parse_timestamp, to_micros
from leadscore.model import model_version, parse_model
from leadscore.sql.dialects import scoring_sql
from leadscore.sql.result_shape import result_from_row
from tests.batch.tables import events_table, leads_table
from tests.support import thresholds

AT_US = to_micros(parse_timestamp(thresholds.AT))


def test_duckdb_batch_engine() -> None:
    model = parse_model(thresholds.MODEL)
    run = run_batch(
        model, leads_table(thresholds.LEADS), events_table(thresholds.events()), parse_timestamp(thresholds.AT)
    )
    thresholds.check_all(run.to_dicts())


def _rows(cur: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _shaped(model: Any, plan: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert not any(r["fallback"] for r in rows)
    return [result_from_row(model, model_version(model), plan, AT_US, r) for r in rows]


def test_duckdb_dialect_sql() -> None:
    import duckdb

    model = parse_model(thresholds.MODEL)
    sql, plan = scoring_sql(model, "duckdb", AT_US)
    con = duckdb.connect()
    con.register("leads", leads_table(thresholds.LEADS))
    con.register("events", events_table(thresholds.events()))
    thresholds.check_all(_shaped(model, plan, _rows(con.execute(sql))))


@pytest.mark.integration
def test_postgres_dialect_sql(postgres_url: str) -> None:
    import psycopg

    model = parse_model(thresholds.MODEL)
    sql, plan = scoring_sql(model, "postgres", AT_US)
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS clampcheck CASCADE; CREATE SCHEMA clampcheck")
        conn.execute("SET search_path = clampcheck; SET TimeZone = 'UTC'")
        conn.execute("CREATE TABLE leads (id text)")
        conn.execute('CREATE TABLE events (id text, lead_id text, type text, "timestamp" timestamptz)')
        with conn.cursor().copy("COPY leads FROM STDIN") as copy:
            for lead in thresholds.LEADS:
                copy.write_row([lead.id])
        with conn.cursor().copy("COPY events FROM STDIN") as copy:
            for e in thresholds.events():
                copy.write_row([e.id, e.lead_id, e.type, e.timestamp])
        rows = _rows(conn.execute(sql))
    thresholds.check_all(_shaped(model, plan, rows))


@pytest.mark.spark
@pytest.mark.integration
@pytest.mark.slow
def test_spark_engine(spark: Any, tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq

    from leadscore.batch.spark.run import run_spark

    pq.write_table(leads_table(thresholds.LEADS), tmp_path / "leads.parquet")
    pq.write_table(events_table(thresholds.events()), tmp_path / "events.parquet")
    pq.write_table(events_table(thresholds.lifecycle_events()), tmp_path / "lifecycle.parquet")
    model = parse_model(thresholds.MODEL)
    out = tmp_path / "out.jsonl"
    run_spark(model, tmp_path / "leads.parquet", tmp_path / "events.parquet", thresholds.AT, out, spark=spark)
    # with a lifecycle whose transitions read the clamped scores: the stage comes from the fallback
    staged = tmp_path / "staged.jsonl"
    lifecycle = parse_model(thresholds.LIFECYCLE_MODEL)
    run_spark(lifecycle, tmp_path / "leads.parquet", tmp_path / "lifecycle.parquet", thresholds.AT, staged, spark=spark)

    def read(path: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for part in sorted(path.glob("part-*")) for line in part.read_text().splitlines()]

    thresholds.check_all(read(out))
    got = read(staged)
    assert {r["lead_id"]: r["stage"] for r in got} == thresholds.STAGES
    thresholds.check_all(got)


@pytest.mark.parametrize("sql_replay", [True, False])
def test_duckdb_lifecycle_replay_compares_the_exact_bound(sql_replay: bool) -> None:
    """The stage replayed in SQL (the replay table's scores at each event) or by the fallback."""
    model = parse_model(thresholds.LIFECYCLE_MODEL)
    run = run_batch(
        model,
        leads_table(thresholds.LEADS),
        events_table(thresholds.lifecycle_events()),
        parse_timestamp(thresholds.AT),
        sql_replay=sql_replay,
    )
    got = run.to_dicts()
    assert {r["lead_id"]: r["stage"] for r in got} == thresholds.STAGES
    thresholds.check_all(got)
    if sql_replay:
        assert run.stats.fallback_leads == 0, run.stats
