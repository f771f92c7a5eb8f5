"""The options the command modules share (`--project`, `--at`, `--format`), declared once so that every
command spells and documents them alike."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

ProjectOpt = Annotated[
    Path | None, typer.Option("--project", help="Workspace directory (default: found from the current directory).")
]
AtOpt = Annotated[str | None, typer.Option("--at", help="Evaluation time, ISO 8601 (default: now, UTC).")]


class Format(StrEnum):
    table = "table"
    json = "json"


# an enum, so that `--format xml` is a usage error (exit code 2) instead of a table
FormatOpt = Annotated[Format, typer.Option("--format", help="table or json.")]
