"""The store commands as registered (`cli.store`): usage errors across them, and registering them
imports no SQLAlchemy."""

from __future__ import annotations

from pathlib import Path

from leadscore.cli.main import app
from tests.cli.conftest import run, runner


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


def test_the_commands_are_registered_without_importing_sqlalchemy() -> None:
    """`leadscore batch` (any command) imports every command module: SQLAlchemy waits for a store command."""
    import subprocess
    import sys

    code = "import sys, leadscore.cli.main; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
