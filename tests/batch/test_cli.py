"""`leadscore batch` and `leadscore sql` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlglot
from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.io import read_events, read_leads
from leadscore.model import load_model
from tests.batch.compare import differences

ROOT = Path(__file__).resolve().parents[2]
SHOE = ROOT / "examples" / "shoe-shop"
B2B = ROOT / "examples" / "b2b-saas"
AT = "2026-06-01T00:00:00Z"
runner = CliRunner()


@pytest.mark.parametrize("example", [SHOE, B2B], ids=["shoe-shop", "b2b-saas"])
def test_batch_equals_score(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.jsonl"
    args = [
        "batch",
        str(example / "model.yaml"),
        "--leads",
        str(example / "data" / "leads.csv"),
        "--events",
        str(example / "data" / "events.csv"),
        "--at",
        AT,
        "--out",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "leads" in res.output and "events/s" in res.output
    got = [json.loads(line) for line in out.read_text().splitlines()]
    from leadscore.engine import score_many

    model = load_model(example / "model.yaml")
    leads, events = read_leads(example / "data" / "leads.csv"), read_events(example / "data" / "events.csv")
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    assert not differences(expected, got)


def test_batch_reports_bad_input_without_traceback(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "batch",
            str(SHOE / "model.yaml"),
            "--leads",
            str(tmp_path / "none.parquet"),
            "--events",
            str(tmp_path / "none.parquet"),
            "--out",
            str(tmp_path / "o.jsonl"),
        ],
    )
    assert res.exit_code == 2
    assert "file not found" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["batch", str(SHOE / "model.yaml"), "--leads", "x", "--events", "y", "--out", "o.txt"])
    assert res.exit_code == 2 and ".jsonl" in res.output


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark", "snowflake", "bigquery"])
def test_sql_prints_a_query_the_dialect_parses(dialect: str) -> None:
    res = runner.invoke(app, ["sql", str(SHOE / "model.yaml"), "--dialect", dialect, "--at", AT])
    assert res.exit_code == 0, res.output
    assert "-- Columns: lead_id, score," in res.output
    sqlglot.parse_one(res.output, read=dialect)


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["postgres", "spark", "snowflake", "bigquery"])
def test_sql_exports_lifecycle_models_to_every_dialect(dialect: str) -> None:
    """Without array lambdas the fold is a recursive CTE (run for real in test_sql_postgres.py)."""
    for model in (B2B / "model.yaml", ROOT / "tests" / "batch" / "event_lifecycle.yaml"):
        res = runner.invoke(app, ["sql", str(model), "--dialect", dialect])
        assert res.exit_code == 0, res.output
        sqlglot.parse_one(res.output, read=dialect)
        assert ("RECURSIVE" in res.output) == (dialect != "spark")


def test_printed_duckdb_query_runs_and_matches_the_engine(tmp_path: Path) -> None:
    import duckdb

    from leadscore.batch import run_batch

    res = runner.invoke(app, ["sql", str(SHOE / "model.yaml"), "--dialect", "duckdb", "--at", AT])
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW leads AS SELECT * FROM read_csv('{SHOE / 'data' / 'leads.csv'}', all_varchar = true)")
    con.execute(
        'CREATE VIEW events AS SELECT * REPLACE (CAST("timestamp" AS TIMESTAMPTZ) AS "timestamp", '
        f"TRY_CAST(amount AS DOUBLE) AS amount) FROM read_csv('{SHOE / 'data' / 'events.csv'}', all_varchar = true)"
    )
    printed = dict(con.execute(f"SELECT lead_id, score FROM ({res.output.rstrip().rstrip(';')})").fetchall())
    engine = run_batch(load_model(SHOE / "model.yaml"), SHOE / "data" / "leads.csv", SHOE / "data" / "events.csv", AT)
    assert printed == {r["lead_id"]: r["score"] for r in engine.to_dicts()}


@pytest.mark.slow
def test_predictive_dimensions_go_to_the_pure_scorer_never_silently_zero(tmp_path: Path) -> None:
    """A model with a trained dimension: batch equals `score` lead by lead; SQL export and Spark refuse."""
    root = Path(__file__).resolve().parents[2] / "examples"
    model = root / "b2b-saas-predictive" / "model.yaml"
    data = root / "b2b-saas" / "data"
    common = ["--leads", str(data / "leads.csv"), "--events", str(data / "events.csv"), "--at", "2026-06-01"]
    out = tmp_path / "b.jsonl"
    assert runner.invoke(app, ["batch", str(model), *common, "--out", str(out)]).exit_code == 0
    scored = runner.invoke(app, ["score", str(model), *common, "--format", "json"])
    assert scored.exit_code == 0
    batch = {r["lead_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    pure = {r["lead_id"]: r for r in json.loads(scored.stdout)}
    assert batch.keys() == pure.keys()
    for lead_id, r in pure.items():
        assert batch[lead_id]["dimensions"] == r["dimensions"]
        assert batch[lead_id]["model_version"] == r["model_version"]
    assert any(r["dimensions"]["propensity"] > 0 for r in pure.values())
    assert runner.invoke(app, ["sql", str(model)]).exit_code == 2
