"""The setup and data commands end to end on a fresh workspace (`cli.store_data`): ingest refusals and
rejects files, refresh reporting the leads it cannot score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadscore.cli.main import app
from tests.cli.conftest import run, runner


def test_bad_file_is_refused_with_location_and_exit_code_2(workspace: Path) -> None:
    (workspace / "bad.csv").write_text("lead_id,type,timestamp\na,page_view,2026-05-30\nb,page_view,yesterday\n")
    result = runner.invoke(app, ["ingest", "events", "bad.csv"])
    assert result.exit_code == 2
    assert "bad.csv:3:timestamp" in result.output
    assert json.loads(run("queue", "--format", "json")) == []


def test_refresh_reports_a_lead_it_cannot_score_and_refreshes_the_others(workspace: Path) -> None:
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace
    from leadscore.model import parse_model
    from leadscore.store.models_repo import activate

    model = "format: 1\nname: f\nrules:\n  - {id: v, on: page_view, points: 1}\nlifecycle:\n  stages: [lead, trial]\n"
    (workspace / "model.yaml").write_text(model)
    (workspace / "leads.csv").write_text("id,stage\na,lead\nb,trial\n")
    run("model", "apply", "model.yaml")
    run("ingest", "leads", "leads.csv")
    narrower = model.replace("[lead, trial]", "[lead]")
    service = LeadService.from_workspace(Workspace.find(workspace))
    with service.store.write() as conn:  # a stage the active model lacks, as before apply became atomic
        activate(service.store, conn, parse_model(narrower), narrower, service.now_us())
    service.close()
    result = runner.invoke(app, ["refresh"])
    assert result.exit_code == 0, result.output
    assert "1 leads re-evaluated" in result.output
    assert "1 lead(s) could not be scored" in result.output and "lead 'b'" in result.output


def test_rejects_never_overwrite_a_users_file(workspace: Path) -> None:
    """`--rejects` naming the input, or an existing file, is refused before anything is written."""
    original = "lead_id,type,timestamp\na,page_view,2026-05-30T00:00:00Z\nb,page_view,yesterday\n"
    (workspace / "in.csv").write_text(original)
    for args in (["--rejects", "in.csv"], ["--rejects", "./in.csv", "--force"], ["--rejects", "leads.csv"]):
        result = runner.invoke(app, ["ingest", "events", "in.csv", "--skip-invalid", *args])
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
    assert (workspace / "in.csv").read_text() == original
    assert (workspace / "leads.csv").read_text().startswith("id,email")
    assert json.loads(run("queue", "--format", "json")) == []  # nothing ingested
    run("ingest", "events", "in.csv", "--skip-invalid", "--rejects", "leads.csv", "--force")
    assert "in.csv:3:timestamp" in (workspace / "leads.csv").read_text()
    # nothing rejected: no rejects file is written
    run("ingest", "events", "events.jsonl", "--skip-invalid")
    assert not (workspace / "events.rejects.jsonl").exists()


@pytest.mark.parametrize("kind", ["events", "leads"])
def test_rejects_without_skip_invalid_is_a_usage_error(workspace: Path, kind: str) -> None:
    """`--rejects` only means something with `--skip-invalid`: alone it is refused, before anything is read."""
    source = "events.jsonl" if kind == "events" else "leads.csv"
    before = sorted(p.name for p in workspace.iterdir())
    result = runner.invoke(app, ["ingest", kind, source, "--rejects", "bad.jsonl"])
    assert result.exit_code == 2, result.output
    assert "--rejects needs --skip-invalid" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in workspace.iterdir()) == before  # no rejects file
    assert json.loads(run("queue", "--format", "json")) == []  # nothing ingested
