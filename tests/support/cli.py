"""The command line as the tests run it: `typer.testing.CliRunner.invoke(app, ...)` builds the click
command from the Typer app again on every call (~30 ms of CPU for `leadscore`'s app, every option of
every command read from its signature), where the installed program builds it once per process. The
hostile-file property tests invoke it thousands of times; building it once per app keeps what each
invocation runs (the same command object a process gets) and drops the repeated build."""

from __future__ import annotations

import weakref
from typing import Any


def cache_cli_commands() -> None:
    """Make `typer.testing`'s command builder return the command built for an app the first time.

    The tests never change an app after it is built (no command is added or removed), so the cached
    command is the one a new build would return."""
    import typer.testing

    build = typer.testing._get_command
    if getattr(build, "cached", False):
        return
    built: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def get_command(app: Any) -> Any:
        command = built.get(app)
        if command is None:
            command = built[app] = build(app)
        return command

    get_command.cached = True  # type: ignore[attr-defined]
    typer.testing._get_command = get_command  # type: ignore[assignment]
