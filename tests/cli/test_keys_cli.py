"""`leadscore keys create|list|revoke`: the token is shown once, listed never, and revoked keys fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.cli.main import app

runner = CliRunner()


def test_create_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    monkeypatch.delenv("LEADSCORE_PROJECT", raising=False)
    assert runner.invoke(app, ["init", str(tmp_path)]).exit_code == 0
    monkeypatch.chdir(tmp_path)
    made = runner.invoke(
        app, ["keys", "create", "site", "--scope", "intake", "--origin", "https://www.example.com", "--format", "json"]
    )
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    listed = runner.invoke(app, ["keys", "list", "--format", "json"])
    assert key["token"] not in listed.stdout
    (row,) = json.loads(listed.stdout)
    assert row["scopes"] == ["intake"] and row["origins"] == ["https://www.example.com"] and row["revoked_at"] is None
    service = LeadService.from_workspace(Workspace.find(tmp_path))
    try:
        assert service.verify_key(key["token"]) is not None
        assert runner.invoke(app, ["keys", "revoke", key["id"]]).exit_code == 0
        assert service.verify_key(key["token"]) is None
    finally:
        service.close()
    bad = runner.invoke(app, ["keys", "create", "x", "--scope", "root"])
    assert bad.exit_code == 2 and "unknown scope" in bad.output
    assert runner.invoke(app, ["keys", "revoke", "000000000000"]).exit_code == 2
