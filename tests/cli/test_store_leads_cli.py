"""The commands on one lead end to end on a fresh workspace (`cli.store_leads`): stage set, export,
erase, by a merged id too, and an export that never overwrites a file without --force."""

from __future__ import annotations

import json
from pathlib import Path

from leadscore.cli.main import app
from tests.cli.conftest import run, runner


def test_stage_erase_export_and_model_plan(workspace: Path) -> None:
    run("ingest", "leads", "leads.csv")
    run("ingest", "events", "events.jsonl")
    assert "stage sql" in run("stage", "set", "a", "sql")
    run("export", "a", "--out", "a.json")
    assert json.loads((workspace / "a.json").read_text())["lead"]["id"] == "a"
    assert "leads" in run("model", "plan", "model.yaml")
    assert runner.invoke(app, ["erase", "b"]).exit_code == 2  # needs --yes
    run("erase", "b", "--yes")
    assert [r["lead_id"] for r in json.loads(run("queue", "--format", "json"))] == ["a"]


def test_erase_and_export_by_a_merged_id(workspace: Path) -> None:
    run("ingest", "leads", "leads.csv")
    run("merge", "a", "b")
    exported = json.loads(run("export", "b"))
    assert exported["lead"]["id"] == "a"
    assert "erased a" in run("erase", "b", "--yes")
    assert runner.invoke(app, ["export", "a"]).exit_code == 2


def test_export_never_overwrites_a_file_without_force(workspace: Path) -> None:
    run("ingest", "leads", "leads.csv")
    result = runner.invoke(app, ["export", "a", "--out", "leads.csv"])
    assert result.exit_code == 2 and "already exists" in result.output
    assert (workspace / "leads.csv").read_text().startswith("id,email")
    run("export", "a", "--out", "leads.csv", "--force")
    assert json.loads((workspace / "leads.csv").read_text())["lead"]["id"] == "a"
