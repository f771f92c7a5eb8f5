"""The service as a command uses it (`cli.service`): no workspace, a database's refusal and other
errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.cli.main import app
from tests.cli.conftest import runner


def test_no_workspace_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEADSCORE_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["queue"])
    assert result.exit_code == 2 and "leadscore init" in result.output


class _Closing:
    def close(self) -> None:
        pass


def test_a_database_refusal_is_said_in_one_line_and_other_errors_pass_through(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`open_service` imports SQLAlchemy only when an error reaches it (every command imports the module): a
    DBAPIError is still said plainly with exit code 2, any other error still propagates unchanged."""
    import sqlalchemy.exc
    import typer

    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace
    from leadscore.cli import service

    monkeypatch.setattr(Workspace, "find", classmethod(lambda cls, project=None: None))
    monkeypatch.setattr(LeadService, "from_workspace", classmethod(lambda cls, ws, clock=None: _Closing()))
    refused = sqlalchemy.exc.IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed: leads.id"))
    with pytest.raises(typer.Exit) as caught, service.open_service(None):
        raise refused
    assert caught.value.exit_code == 2
    assert "the database refused the change, which was rolled back: UNIQUE constraint failed" in capsys.readouterr().err
    with pytest.raises(KeyError), service.open_service(None):
        raise KeyError("not a database error")
