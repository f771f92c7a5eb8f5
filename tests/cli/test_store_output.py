"""What the store commands print (`cli.store_output`): names, ids and file names as written."""

from __future__ import annotations

from pathlib import Path

from leadscore.cli.main import app
from tests.cli.conftest import run, runner


def test_messages_show_names_as_written(workspace: Path) -> None:
    """Fields, ids and file names are never read as markup or emoji codes (`:id:` is not an emoji)."""
    (workspace / "[b]leads.jsonl").write_text('{"id": "[bold]x", "employees": 5}\n{"id": null}\n')
    result = runner.invoke(app, ["ingest", "leads", "[b]leads.jsonl"])
    assert result.exit_code == 2 and "[b]leads.jsonl:2:id: missing lead id" in result.output
    (workspace / "[b]leads.jsonl").write_text('{"id": "[bold]x", "employees": 5}\n')
    run("ingest", "leads", "[b]leads.jsonl")
    assert "[bold]x" in run("queue") and "[bold]x" in run("explain", "[bold]x")
