"""A fresh workspace (embedded SQLite) with a leads file and an events file, and the runner the store
commands' tests invoke `leadscore` with."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app

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
