"""A rejects file: the bad rows of an input, with where and why, so nothing is silently dropped.

`leadscore ingest --skip-invalid` keeps the good rows and hands the batches' errors here. Each
bad row is written once, as its original fields plus `_line` (line, or Parquet row number) and
`_error` (every problem of the row, `file:line:column: message`, joined by " | ").

The format follows the extension: .csv / .tsv (the columns of the first rejected row; fields a
later row adds, possible with JSON input, are kept as JSON in `_error`'s `extra fields` note) or
.jsonl / .ndjson.

A user's file is never destroyed: an existing rejects file is refused unless `force`, the input
itself never (whatever `force` says), and the rows go to a temporary file beside the target that
replaces it in one rename when the writer closes. Nothing rejected, nothing written: the target is
neither created nor touched.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from leadscore.io.errors import DataFileError, RowError
from leadscore.io.plain import cell_text, dumps
from leadscore.io.safe_write import check_target, umask

_CSV = {".csv": ",", ".tsv": "\t", ".txt": ","}
_JSONL = {".jsonl", ".ndjson"}


class RejectsWriter:
    """Use as a context manager; `count` is the number of rows written so far."""

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        force: bool = False,
        inputs: Iterable[str | PathLike[str]] = (),
    ) -> None:
        self.path = Path(path)
        self.force = force
        suffix = self.path.suffix.lower()
        if suffix not in _CSV and suffix not in _JSONL:
            known = ", ".join(sorted([*_CSV, *_JSONL]))
            raise DataFileError.file_level(str(path), f"rejects file must end in one of {known}")
        for source in inputs:
            if same_file(self.path, Path(source)):
                raise DataFileError.file_level(
                    str(path), "the rejects file is the input file: choose another --rejects"
                )
        self._check_target()
        self._delimiter = _CSV.get(suffix)
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            self._temp = Path(temp)
            os.chmod(fd, 0o666 & ~umask())  # as a plainly created file would be (mkstemp makes it private)
            self._file: TextIO = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close())
        except OSError as exc:
            raise DataFileError.file_level(str(path), f"cannot write rejects file: {exc.strerror or exc}") from None
        self._csv: Any = None
        self._columns: list[str] = []
        self.count = 0

    def write(self, errors: Iterable[RowError]) -> int:
        """Write one row per bad input row (consecutive errors of one row are merged); returns how many."""
        written = 0
        group: list[RowError] = []
        for error in errors:
            if group and (error.file, error.line) != (group[0].file, group[0].line):
                self._write_row(group)
                written += 1
                group = []
            group.append(error)
        if group:
            self._write_row(group)
            written += 1
        self.count += written
        return written

    def _write_row(self, group: list[RowError]) -> None:
        record = dict(group[0].record or {})
        message = " | ".join(str(e) for e in group)
        if self._delimiter is None:
            record.update({"_line": group[0].line, "_error": message})
            self._file.write(dumps(record) + "\n")
            return
        if self._csv is None:
            self._columns = [c for c in record if c not in ("_line", "_error")]
            self._csv = csv.writer(self._file, delimiter=self._delimiter)
            self._csv.writerow([*self._columns, "_line", "_error"])
        extra = {k: v for k, v in record.items() if k not in self._columns}
        if extra:
            message += f" | extra fields: {dumps(extra)}"
        line = "" if group[0].line is None else str(group[0].line)
        self._csv.writerow([*(cell_text(record.get(c)) for c in self._columns), line, message])

    def _check_target(self) -> None:
        check_target(self.path, self.force, "rejects file", "--rejects")

    def close(self) -> None:
        """Move the rows written into place (rows of batches already stored are never lost), or,
        when there are none, leave the target as it was."""
        if self._file.closed:
            return
        self._file.close()
        try:
            if self.count:
                self._check_target()  # another program may have created it meanwhile
                os.replace(self._temp, self.path)
        except OSError as exc:
            raise DataFileError.file_level(
                str(self.path), f"cannot write rejects file: {exc.strerror or exc} (rows kept in {self._temp})"
            ) from None
        finally:
            if not self.count:
                self._temp.unlink(missing_ok=True)

    def __enter__(self) -> RejectsWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (links and `./` spellings included)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False
