"""Errors for bad input files: where (file, line, column), what value, and what was wrong.

A `RowError` is one problem in one place; a `DataFileError` carries several of them so that a user
fixes a file in one pass instead of one error per run. Its `str()` is one line per error, e.g.
`events.csv:14:timestamp: not an ISO 8601 timestamp: '2026-13-01'`, ready to print as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: How many errors a DataFileError spells out; the rest are counted ("and N more").
MAX_SHOWN = 20


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in an input file.

    `line` is the physical line where the row starts (CSV header = line 1), or for Parquet the
    1-based row number within the file (`by_row`); None for a problem with the whole file (a
    missing column). `record` holds the row's original fields, so a rejects file can keep them.
    """

    file: str
    line: int | None
    column: str | None
    value: Any
    message: str
    by_row: bool = False
    record: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def location(self) -> str:
        """`file:line:column`, leaving out the parts that do not apply."""
        parts = [self.file]
        if self.line is not None:
            parts.append(f"row {self.line}" if self.by_row else str(self.line))
        if self.column is not None and self.line is not None:
            parts.append(self.column)
        return ":".join(parts)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class DataFileError(ValueError):
    """An input file, or rows of it, could not be read. Nothing from it should be used as valid.

    `errors` holds at most MAX_SHOWN errors; `total` counts all that were found.
    """

    def __init__(self, errors: Iterable[RowError], total: int | None = None) -> None:
        kept = list(errors)
        self.total = max(total if total is not None else len(kept), len(kept))
        self.errors = kept[:MAX_SHOWN]
        super().__init__(self._render())

    @classmethod
    def file_level(cls, file: str, message: str, column: str | None = None) -> DataFileError:
        """An error about the whole file (unreadable, unknown format, missing column)."""
        return cls([RowError(file, None, column, None, message)])

    def _render(self) -> str:
        lines = [str(e) for e in self.errors]
        hidden = self.total - len(self.errors)
        if hidden > 0:
            lines.append(f"... and {hidden} more error{'s' if hidden != 1 else ''}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._render()
