"""The store commands end to end on a fresh workspace (embedded SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.triggers.queue_order import sales_queue

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    monkeypatch.delenv("LEADSCORE_PROJECT", raising=False)
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leads.csv").write_text("id,email,employees,title\na,x@acme.com,300,Director\nb,y@acme.com,20,Dev\n")
    (tmp_path / "events.jsonl").write_text(
        '{"lead_id": "a", "type": "page_view", "timestamp": "2026-05-30T00:00:00Z", "path": "/pricing"}\n'
        '{"lead_id": "a", "type": "demo_request", "timestamp": "2026-05-31T00:00:00Z"}\n'
        '{"lead_id": "b", "type": "page_view", "timestamp": "2026-05-31T00:00:00Z", "path": "/blog"}\n'
    )
    return tmp_path


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_ingest_then_queue_and_explain_as_json(workspace: Path) -> None:
    run("ingest", "leads", "leads.csv")
    out = run("ingest", "events", "events.jsonl")
    assert "3 new events" in out
    assert "0 new events" in run("ingest", "events", "events.jsonl")
    queue = json.loads(run("queue", "--format", "json"))
    assert [r["lead_id"] for r in queue] == ["a", "b"]
    assert set(queue[0]) >= {
        "lead_id",
        "at",
        "model",
        "model_version",
        "score",
        "dimensions",
        "labels",
        "stage",
        "breakdown",
    }
    assert math_sum(queue[0]["breakdown"]) == pytest.approx(queue[0]["score"])
    explained = json.loads(run("explain", "a", "--format", "json"))
    assert explained["score"] == queue[0]["score"] and len(explained["events"]) == 2
    assert explained["score_history"] and explained["stage_history"]


def math_sum(entries: list[dict[str, float]]) -> float:
    return sum(e["points"] for e in entries)


def test_queue_json_is_in_queue_order(workspace: Path) -> None:
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace

    run("ingest", "leads", "leads.csv")
    run("ingest", "events", "events.jsonl")
    service = LeadService.from_workspace(Workspace.find(workspace))
    try:
        expected = [r.lead_id for r in sales_queue(service.queue())]
    finally:
        service.close()
    assert [r["lead_id"] for r in json.loads(run("queue", "--format", "json"))] == expected


def test_bad_file_is_refused_with_location_and_exit_code_2(workspace: Path) -> None:
    (workspace / "bad.csv").write_text("lead_id,type,timestamp\na,page_view,2026-05-30\nb,page_view,yesterday\n")
    result = runner.invoke(app, ["ingest", "events", "bad.csv"])
    assert result.exit_code == 2
    assert "bad.csv:3:timestamp" in result.output
    assert json.loads(run("queue", "--format", "json")) == []


def test_no_workspace_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADSCORE_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["queue"])
    assert result.exit_code == 2 and "leadscore init" in result.output


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


def test_usage_errors_exit_2_and_say_why(workspace: Path) -> None:
    run("ingest", "leads", "leads.csv")
    for args in (
        ["queue", "--format", "xml"],
        ["explain", "a", "--format", "xml"],
        ["accounts", "--format", "yaml"],
        ["webhooks", "log", "--format", "csv"],
        ["merge", "a", "a"],
        ["webhooks", "redeliver", "no-such-message"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    assert "no-such-message" in runner.invoke(app, ["webhooks", "redeliver", "no-such-message"]).output


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


def test_messages_show_names_as_written(workspace: Path) -> None:
    """Fields, ids and file names are never read as markup or emoji codes (`:id:` is not an emoji)."""
    (workspace / "[b]leads.jsonl").write_text('{"id": "[bold]x", "employees": 5}\n{"id": null}\n')
    result = runner.invoke(app, ["ingest", "leads", "[b]leads.jsonl"])
    assert result.exit_code == 2 and "[b]leads.jsonl:2:id: missing lead id" in result.output
    (workspace / "[b]leads.jsonl").write_text('{"id": "[bold]x", "employees": 5}\n')
    run("ingest", "leads", "[b]leads.jsonl")
    assert "[bold]x" in run("queue") and "[bold]x" in run("explain", "[bold]x")


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


class _Closing:
    def close(self) -> None:
        pass


def test_a_database_refusal_is_said_in_one_line_and_other_errors_pass_through(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`_service` imports SQLAlchemy only when an error reaches it (every command imports the module): a
    DBAPIError is still said plainly with exit code 2, any other error still propagates unchanged."""
    import sqlalchemy.exc
    import typer

    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace
    from leadscore.cli import store

    monkeypatch.setattr(Workspace, "find", classmethod(lambda cls, project=None: None))
    monkeypatch.setattr(LeadService, "from_workspace", classmethod(lambda cls, ws, clock=None: _Closing()))
    refused = sqlalchemy.exc.IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed: leads.id"))
    with pytest.raises(typer.Exit) as caught, store._service(None):
        raise refused
    assert caught.value.exit_code == 2
    assert "the database refused the change, which was rolled back: UNIQUE constraint failed" in capsys.readouterr().err
    with pytest.raises(KeyError), store._service(None):
        raise KeyError("not a database error")


def test_the_commands_are_registered_without_importing_sqlalchemy() -> None:
    """`leadscore batch` (any command) imports every command module: SQLAlchemy waits for a store command."""
    import subprocess
    import sys

    code = "import sys, leadscore.cli.main; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
