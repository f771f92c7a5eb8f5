"""What the store commands print: messages and user errors as plain text (never read as markup),
JSON for programs, and tables of the service's rows. Beside `output`, which the scoring commands use,
because these print the service's models and dict rows as they are."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from rich.text import Text

from leadscore.cli.output import err, out


def error(message: str) -> None:
    """A user error on stderr, as plain text: file names, ids and fields are never read as markup or
    emoji codes (`file:row 5:id:` stays as written)."""
    err.print(Text.assemble(("error:", "red"), " ", message))


def say(message: str) -> None:
    out.print(Text(message))


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


def print_rows(title: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(
            *(Text(f"{row.get(c):.2f}" if isinstance(row.get(c), float) else str(row.get(c, ""))) for c in columns)
        )
    out.print(table)
