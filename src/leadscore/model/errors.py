"""Errors a user can make in a model file, reported with file, line, field and what was expected."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelIssue:
    """One problem in a model file. `path` is the field path, e.g. `rules[2].within`."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def format(self, source: str | None) -> str:
        where = source or "<model>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ModelError(Exception):
    """A model file that cannot be used. Carries every issue found, not only the first."""

    def __init__(self, issues: list[ModelIssue], source: str | None = None) -> None:
        self.issues = issues
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        n = len(self.issues)
        head = f"{self.source or 'model'}: {n} error{'s' if n != 1 else ''} in the scoring model"
        return "\n".join([head, *("  " + i.format(self.source) for i in self.issues)])
