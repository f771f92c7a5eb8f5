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


@pytest.mark.parametrize("name", ["it's scores.jsonl", "it's scores.parquet"])
def test_batch_writes_to_a_path_with_a_quote(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    args = ["batch", str(B2B / "model.yaml"), "-l", str(B2B / "data" / "leads.csv")]
    res = runner.invoke(app, [*args, "-e", str(B2B / "data" / "events.csv"), "--at", AT, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 0


def test_batch_never_writes_over_its_input(tmp_path: Path) -> None:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    events = tmp_path / "events.parquet"
    pq.write_table(pcsv.read_csv(B2B / "data" / "events.csv"), events)
    before = events.read_bytes()
    args = ["batch", str(B2B / "model.yaml"), "-l", str(B2B / "data" / "leads.csv"), "-e", str(events)]
    res = runner.invoke(app, [*args, "--at", AT, "--out", str(tmp_path / "." / "events.parquet")])
    assert res.exit_code == 2 and "input" in res.output
    assert events.read_bytes() == before


HEADER = "id,lead_id,type,timestamp,phone\n"
GOOD = "e1,b-001,demo_request,2026-05-20T10:00:00Z,+4799887766\n"


@pytest.mark.parametrize(
    ("bad_row", "where"),
    [
        ("e2,b-002,demo_request,not-a-time,\n", "events.csv:3:timestamp"),
        ("e2,b-002,demo_request,99999-01-01T00:00:00Z,\n", "events.csv:3:timestamp"),
        ('e2,b-002,"demo_request,2026-05-20T10:00:00Z,\n', "events.csv:3"),
        ("e2,,demo_request,2026-05-20T10:00:00Z,\n", "events.csv:3:lead_id"),
    ],
    ids=["bad-time", "year-99999", "unbalanced-quote", "no-lead"],
)
def test_batch_refuses_what_score_refuses(tmp_path: Path, bad_row: str, where: str) -> None:
    """One reader for every command: the same file is refused by both, at the same place, no traceback."""
    events = tmp_path / "events.csv"
    events.write_text(HEADER + GOOD + bad_row)
    leads = B2B / "data" / "leads.csv"
    model = str(B2B / "model.yaml")
    scored = runner.invoke(app, ["score", model, "-l", str(leads), "-e", str(events), "--at", AT, "-f", "json"])
    batched = runner.invoke(
        app, ["batch", model, "-l", str(leads), "-e", str(events), "--at", AT, "-o", str(tmp_path / "o.jsonl")]
    )
    for res in (scored, batched):
        assert res.exit_code == 2, res.output
        assert where in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o.jsonl").exists()


def test_batch_reads_text_files_as_score_does(tmp_path: Path) -> None:
    """Leading `+` and zeros stay text; JSON Lines works too; every result equals `score`'s."""
    model = tmp_path / "model.yaml"
    model.write_text(
        "format: 1\nname: m\nrules:\n"
        "  - {id: intl, on: call, where: {phone: {eq: '+4799887766'}}, points: 7}\n"
        "  - {id: zip, when: {attribute: zip, eq: '0150'}, points: 3}\n"
        "  - {id: big, on: call, where: {phone: {gt: 1000}}, points: 100}\n"
    )
    leads = tmp_path / "leads.csv"
    leads.write_text("id,zip\na,0150\nb,150\n")
    events = tmp_path / "events.csv"
    events.write_text(HEADER + "1,a,call,2026-05-20T10:00:00Z,+4799887766\n1,b,call,2026-05-20,12000\n")
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in read_events(events)))
    expected = json.loads(
        runner.invoke(app, ["score", str(model), "-l", str(leads), "-e", str(events), "--at", AT, "-f", "json"]).output
    )
    assert {r["lead_id"]: r["score"] for r in expected} == {"a": 10, "b": 100}  # the + kept a's phone text
    for source in (events, jsonl):
        out = tmp_path / f"{source.suffix[1:]}.jsonl"
        res = runner.invoke(app, ["batch", str(model), "-l", str(leads), "-e", str(source), "--at", AT, "-o", str(out)])
        assert res.exit_code == 0, res.output
        got = [json.loads(line) for line in out.read_text().splitlines()]
        assert not differences(expected, got)


def _parquet_events(path: Path, **columns: list[object]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    base: dict[str, object] = {
        "lead_id": ["b-001", "b-002"],
        "type": ["demo_request", "demo_request"],
        "timestamp": pa.array([1_779_000_000_000_000] * 2, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
    }
    pq.write_table(pa.table({**base, **columns}), path)
    return path


@pytest.mark.parametrize(
    ("columns", "field"),
    [
        ({"timestamp": [1_779_000_000_000_000, 3_093_527_980_800_000_000]}, "timestamp"),
        ({"timestamp": [1_779_000_000_000_000, None]}, "timestamp"),
        ({"lead_id": ["b-001", None]}, "lead_id"),
        ({"lead_id": ["b-001", "  "]}, "lead_id"),
        ({"lead_id": ["b-001", "L" * 256]}, "lead_id"),
        ({"type": ["demo_request", "x\x00"]}, "type"),
        ({"id": ["e1", "E" * 256]}, "id"),
        ({"note": ["ok", "a\x00b"]}, "note"),
    ],
    ids=["year-99999", "no-time", "no-lead", "blank-lead", "long-lead", "nul-type", "long-id", "nul-value"],
)
def test_batch_refuses_parquet_rows_score_refuses(tmp_path: Path, columns: dict[str, list[object]], field: str) -> None:
    import pyarrow as pa

    if "timestamp" in columns:
        columns = {"timestamp": pa.array(columns["timestamp"], pa.int64()).cast(pa.timestamp("us", tz="UTC"))}
    events = _parquet_events(tmp_path / "events.parquet", **columns)
    model, leads = str(B2B / "model.yaml"), str(B2B / "data" / "leads.csv")
    scored = runner.invoke(app, ["score", model, "-l", leads, "-e", str(events), "--at", AT, "-f", "json"])
    out = tmp_path / "o.jsonl"
    batched = runner.invoke(app, ["batch", model, "-l", leads, "-e", str(events), "--at", AT, "-o", str(out)])
    for res in (scored, batched):
        assert res.exit_code == 2, res.output
        assert f"events.parquet:row 2:{field}:" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_batch_reads_parquet_ids_as_score_does(tmp_path: Path) -> None:
    """Ids are stripped (of what Python's strip removes: tabs too) and whole-number floats are ids
    ("17.0" is lead 17) in both commands."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = tmp_path / "model.yaml"
    model.write_text("format: 1\nname: m\nrules:\n  - {id: demo, on: demo_request, points: 5}\n")
    leads = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": [17.0, 18.0]}), leads)
    events = _parquet_events(tmp_path / "events.parquet", lead_id=[" 17", "18\t"], id=[" e1", ""])
    expected = json.loads(
        runner.invoke(app, ["score", str(model), "-l", str(leads), "-e", str(events), "--at", AT, "-f", "json"]).output
    )
    assert {r["lead_id"]: r["score"] for r in expected} == {"17": 5, "18": 5}
    out = tmp_path / "o.jsonl"
    res = runner.invoke(app, ["batch", str(model), "-l", str(leads), "-e", str(events), "--at", AT, "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert not differences(expected, [json.loads(line) for line in out.read_text().splitlines()])


def _deep(levels: int) -> object:
    value: object = "x"
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "note",
    [
        [None, _deep(70)],
        [{"k": "ok"}, {"k": "a\x00b"}],
        [["ok"], ["ok", "a\x00b"]],
        [[{"k": "ok"}], [{"k": "a\x00b"}]],
    ],
    ids=["struct-70-deep", "nul-in-struct", "nul-in-list", "nul-in-list-of-structs"],
)
def test_batch_refuses_nested_parquet_values_score_refuses(tmp_path: Path, note: list[object]) -> None:
    """A nested value too deep, or holding a NUL character, is refused by both commands, named as a
    row and field (batch checked flat columns only, and scored such a file)."""
    events = _parquet_events(tmp_path / "events.parquet", note=note)
    model, leads = str(B2B / "model.yaml"), str(B2B / "data" / "leads.csv")
    scored = runner.invoke(app, ["score", model, "-l", leads, "-e", str(events), "--at", AT, "-f", "json"])
    out = tmp_path / "o.jsonl"
    batched = runner.invoke(app, ["batch", model, "-l", leads, "-e", str(events), "--at", AT, "-o", str(out)])
    for res in (scored, batched):
        assert res.exit_code == 2, res.output
        assert "events.parquet:row 2:note:" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_batch_refuses_nested_parquet_lead_attributes_score_refuses(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    leads = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": ["b-001", "b-002"], "extra": [{"k": "ok"}, {"k": "a\x00b"}]}), leads)
    model, events = str(B2B / "model.yaml"), str(B2B / "data" / "events.csv")
    scored = runner.invoke(app, ["score", model, "-l", str(leads), "-e", events, "--at", AT, "-f", "json"])
    out = tmp_path / "o.jsonl"
    batched = runner.invoke(app, ["batch", model, "-l", str(leads), "-e", events, "--at", AT, "-o", str(out)])
    for res in (scored, batched):
        assert res.exit_code == 2, res.output
        assert "leads.parquet:row 2:extra:" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_batch_parquet_has_no_rule_breakdown_unless_asked_for_in_columns_or_as_the_list(tmp_path: Path) -> None:
    """The three Parquet layouts read back as the JSON Lines results of the same run: by default the
    results without the breakdown (the dimensions hold the scores), with `--breakdown columns` or
    `list` the whole results."""
    import pyarrow.parquet as pq

    from leadscore.sql.result_columns import result_dict

    model, leads, events = B2B / "model.yaml", B2B / "data" / "leads.csv", B2B / "data" / "events.csv"
    args = ["batch", str(model), "-l", str(leads), "-e", str(events), "--at", AT]
    outs = {
        "jsonl": tmp_path / "r.jsonl",
        "dimensions": tmp_path / "d.parquet",
        "columns": tmp_path / "c.parquet",
        "list": tmp_path / "l.parquet",
    }
    for name, out in outs.items():
        extra = ["--breakdown", name] if name in ("columns", "list") else []
        res = runner.invoke(app, [*args, "-o", str(out), *extra])
        assert res.exit_code == 0, res.output
    expected = [json.loads(line) for line in outs["jsonl"].read_text().splitlines()]
    m = load_model(model)
    dimensions = pq.read_table(outs["dimensions"])
    assert dimensions.column_names == [k for k in expected[0] if k != "breakdown"]
    no_breakdown = [{k: v for k, v in r.items() if k != "breakdown"} for r in expected]
    assert not differences(no_breakdown, [{**r, "labels": r["labels"] or {}} for r in dimensions.to_pylist()])
    columns = pq.read_table(outs["columns"])
    assert {"points", "events", "adjustments"} <= set(columns.column_names) and "breakdown" not in columns.column_names
    assert not differences(expected, [result_dict(m, r) for r in columns.to_pylist()])
    listed = pq.read_table(outs["list"]).to_pylist()
    for r in listed:
        r["breakdown"] = [{k: v for k, v in e.items() if not (k == "events" and v is None)} for e in r["breakdown"]]
    assert not differences(expected, listed)


def test_the_engine_draws_no_progress_bar_on_stdout() -> None:
    """DuckDB's progress bar (on by default, drawn on stdout for a statement past 2 s) is off on the
    engine's connection: `leadscore batch` writes its results to a file and nothing to stdout."""
    from leadscore.batch.duckdb.run import connect

    con = connect()
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchall() == [(False,)]
