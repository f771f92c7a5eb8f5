"""The scoring commands as a user runs them: validate, schema, score, test, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
SHOE = ROOT / "examples" / "shoe-shop"
B2B = ROOT / "examples" / "b2b-saas"
AT = "2026-06-01T00:00:00Z"
LEADSCORE = Path(sys.executable).parent / "leadscore"

runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def score_args(example: Path, *extra: str) -> list[str | Path]:
    data = example / "data"
    return [
        "score",
        example / "model.yaml",
        "--leads",
        data / "leads.csv",
        "--events",
        data / "events.csv",
        "--at",
        AT,
        *extra,
    ]


def no_traceback(text: str) -> None:
    assert "Traceback" not in text


# -- validate / schema -------------------------------------------------------------------------------------
def test_validate_ok_names_model_and_counts() -> None:
    code, out, _ = run("validate", SHOE / "model.yaml", B2B / "model.yaml")
    assert code == 0
    assert "'shoe-shop'" in out and "15 rules" in out and "3 playbooks" in out
    assert "'b2b-saas'" in out and "2 dimensions" in out and "9 stages" in out and "3 triggers" in out


def test_validate_reports_every_error_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: 1\nname: m\nrules:\n  - id: a\n    on: x\n    pionts: 3\n  - {id: b, on: y, points: z}\n")
    code, out, err = run("validate", bad)
    assert code == 2 and out == ""
    assert f"{bad}:6:5: rules[0].pionts: unknown key 'pionts'" in err
    assert f"{bad}:7:" in err and "rules[1].points" in err
    no_traceback(err)


def test_schema_is_json_and_can_be_written(tmp_path: Path) -> None:
    code, out, _ = run("schema")
    assert code == 0 and json.loads(out)["$schema"].startswith("https://json-schema.org/")
    target = tmp_path / "model.schema.json"
    code, out, _ = run("schema", "--out", target)
    assert code == 0 and out == "" and json.loads(target.read_text())["title"]


# -- score -------------------------------------------------------------------------------------------------
def test_score_json_is_sorted_by_lead_id_and_complete() -> None:
    code, out, _ = run(*score_args(SHOE, "--format", "json"))
    assert code == 0
    rows = json.loads(out)
    ids = [r["lead_id"] for r in rows]
    assert ids == sorted(ids) and len(ids) == 30
    for r in rows:
        assert r["at"] == AT and r["model"] == "shoe-shop"
        assert abs(sum(b["points"] for b in r["breakdown"]) - r["score"]) < 1e-9
        assert r["labels"]["segment"] in {"ambassador", "engaged", "neutral", "not-engaged"}


def test_score_csv_has_one_row_per_lead() -> None:
    code, out, _ = run(*score_args(B2B, "--format", "csv"))
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 41
    header = lines[0].split(",")
    assert header[:5] == ["lead_id", "at", "model", "model_version", "score"]
    assert {"dim.fit", "dim.engagement", "label.temperature", "stage", "priority"} <= set(header)


def test_score_table_is_the_sales_queue() -> None:
    code, out, _ = run(*score_args(B2B))
    assert code == 0
    # the seed's director (priority 1) is listed before the marketing manager (priority 5)
    assert out.index("b-001") < out.index("b-002")
    assert "Respond" in out and "priority" in out


def test_explain_one_lead() -> None:
    code, out, _ = run(*score_args(B2B, "--explain", "b-001"))
    assert code == 0
    assert "size-core" in out and "ebook-download" in out and "total" in out
    assert "stage: mql" in out and "lead (initial" in out and "Respond at once" in out


def test_events_of_unknown_leads_are_scored_and_counted(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("id,city\nc-1,Utrecht\n")
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"lead_id": "c-1", "type": "email_click", "timestamp": "2026-05-01"}\n'
        '{"lead_id": "c-2", "type": "social_share", "timestamp": "2026-05-01"}\n'
    )
    code, out, err = run("score", SHOE / "model.yaml", "--leads", leads, "--events", events, "--at", AT, "-f", "json")
    assert code == 0 and [r["lead_id"] for r in json.loads(out)] == ["c-1", "c-2"]
    assert "1 lead id(s) in the events are not in" in err


def test_leads_only_scores_attributes(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("id,employees\nsmall,10\ncore,150\n")
    code, out, _ = run("score", B2B / "model.yaml", "--leads", leads, "--at", AT, "-f", "json")
    fit = {r["lead_id"]: r["dimensions"]["fit"] for r in json.loads(out)}
    assert code == 0 and fit == {"core": 100.0, "small": 10.0}


def test_bad_row_names_file_line_column_and_prints_nothing(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text("lead_id,type,timestamp\nc-1,purchase,2026-01-01\nc-2,purchase,2026-13-01\n")
    code, out, err = run("score", SHOE / "model.yaml", "--events", events, "--at", AT, "-f", "json")
    assert code == 2 and out == ""
    assert f"{events}:3:timestamp:" in err
    no_traceback(err)


def test_bad_model_and_bad_time_are_user_errors(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("format: 2\nname: m\nrules: []\n")
    code, out, err = run("score", bad, "--leads", SHOE / "data" / "leads.csv")
    assert code == 2 and out == "" and f"{bad}:1:" in err
    code, out, err = run(*score_args(SHOE)[:-2], "--at", "yesterday")
    assert code == 2 and out == "" and "--at" in err and "yesterday" in err


def test_unknown_stage_attribute_names_the_lead(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("id,stage\nq-1,prospect\n")
    code, out, err = run("score", B2B / "model.yaml", "--leads", leads, "--at", AT)
    assert code == 2 and out == "" and "'q-1'" in err and "prospect" in err


# -- test ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("example", [SHOE, B2B], ids=lambda p: p.name)
def test_example_model_tests_pass(example: Path) -> None:
    code, out, _ = run("test", example / "model.yaml")
    assert code == 0 and "FAIL" not in out and "cases passed" in out


def test_failing_case_exits_1_with_a_diff(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n  - name: wrong\n    at: 2026-06-01\n    events: [{type: social_share, ago: 1d}]\n"
        "    expect: {score: 99, labels: {segment: engaged}}\n"
    )
    code, out, _ = run("test", SHOE / "model.yaml", "--cases", cases)
    assert code == 1
    assert "FAIL" in out and "- expected 99" in out and "+ actual   -45" in out and "0 of 1 cases passed" in out


def test_bad_cases_file_exits_2_located(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - name: x\n    at: 2026-06-01\n    expect: {scroe: 1}\n")
    code, out, err = run("test", SHOE / "model.yaml", "--cases", cases)
    assert out == ""
    assert code == 2 and f"{cases}:4:" in err and "unknown key 'scroe'" in err
    code, _, err = run("test", SHOE / "model.yaml", "--cases", tmp_path / "missing")
    assert code == 2 and "no such file" in err


# -- the installed entry point -------------------------------------------------------------------------------
def installed(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([str(LEADSCORE), *map(str, args)], capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.integration
@pytest.mark.slow
def test_installed_entry_point() -> None:
    assert LEADSCORE.exists(), "the package is not installed in this environment"
    demo = installed("demo")
    assert demo.returncode == 0, demo.stderr
    assert "Sales queue" in demo.stdout and "What you are looking at" in demo.stdout and "leadscore test" in demo.stdout
    assert demo.stdout.index("b-001") < demo.stdout.index("b-002")
    assert installed("validate", B2B / "model.yaml").returncode == 0
    assert installed("test", B2B / "model.yaml").returncode == 0
    scored = installed(*score_args(SHOE, "--format", "json"))
    assert scored.returncode == 0 and len(json.loads(scored.stdout)) == 30
    bad = installed("score", SHOE / "model.yaml", "--events", SHOE / "model.yaml")
    assert bad.returncode == 2 and bad.stdout == "" and "Traceback" not in bad.stderr
