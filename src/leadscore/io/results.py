"""Writing scoring results: JSON (an indented list), JSON Lines, CSV or Parquet.

JSON and JSON Lines carry the full result shape (MODEL-FORMAT.md, `Result.to_dict`). CSV and
Parquet are flat, one row per lead: `lead_id, score, dim:<name>..., label:<name>..., stage,
action, priority, model_version, at` (see `flatten_result`), so that a spreadsheet or a
warehouse table can take them without parsing nested values.

Files are written to a temporary file next to the target and renamed into place, so a failed
write never leaves a half file that looks like a result.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any, TextIO

from leadscore.domain import Result
from leadscore.domain.timeutil import to_iso
from leadscore.io.errors import DataFileError
from leadscore.io.plain import cell_text, dumps, plain

RESULT_FORMATS = ("json", "jsonl", "csv", "parquet")
_BY_SUFFIX = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


def flatten_result(result: Result) -> dict[str, Any]:
    """One flat row: dimensions as `dim:<name>`, label sets as `label:<name>`, the playbook's action."""
    row: dict[str, Any] = {"lead_id": result.lead_id, "score": plain(result.score)}
    for name, value in result.dimensions.items():
        row[f"dim:{name}"] = plain(value)
    for name, label in result.labels.items():
        row[f"label:{name}"] = label
    row["stage"] = result.stage
    row["action"] = result.playbook.action if result.playbook else None
    row["priority"] = result.playbook.priority if result.playbook else None
    row["model_version"] = result.model_version
    row["at"] = to_iso(result.at)
    return row


def result_format(path: str | PathLike[str], fmt: str | None = None) -> str:
    """The explicit format if given, else the one the extension names."""
    if fmt is not None:
        if fmt not in RESULT_FORMATS:
            raise DataFileError.file_level(str(path), f"unknown format {fmt!r}; expected one of {RESULT_FORMATS}")
        return fmt
    found = _BY_SUFFIX.get(Path(path).suffix.lower())
    if found is None:
        known = ", ".join(sorted(_BY_SUFFIX))
        raise DataFileError.file_level(str(path), f"cannot tell the output format from the name; use one of {known}")
    return found


def dump_results(results: Sequence[Result], out: TextIO, fmt: str) -> None:
    """Write to an open text stream (e.g. stdout) in a text format: json, jsonl or csv."""
    if fmt == "json":
        out.write(dumps([r.to_dict() for r in results], indent=2) + "\n")
    elif fmt == "jsonl":
        for r in results:
            out.write(dumps(r.to_dict()) + "\n")
    elif fmt == "csv":
        rows = [flatten_result(r) for r in results]
        columns = _columns(rows)
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell_text(row.get(c)) for c in columns])
    else:
        raise ValueError(f"{fmt!r} is not a text format; expected json, jsonl or csv")


def write_results(results: Sequence[Result], path: str | PathLike[str], fmt: str | None = None) -> Path:
    """Write `results` to `path` in `fmt` (or the format its extension names); returns the path."""
    target = Path(path)
    fmt = result_format(target, fmt)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise DataFileError.file_level(str(target), f"cannot write: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        if fmt == "parquet":
            os.close(fd)
            _write_parquet(results, tmp)
        else:
            with open(fd, "w", encoding="utf-8", newline="") as f:
                dump_results(results, f, fmt)
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return target


def _write_parquet(results: Sequence[Result], path: Path) -> None:
    from leadscore._extras import require

    require("batch", "writing Parquet files")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [flatten_result(r) for r in results]
    columns = _columns(rows)
    for row, result in zip(rows, results, strict=True):
        row["at"] = result.at
    types = {
        "lead_id": pa.string(),
        "score": pa.float64(),
        "stage": pa.string(),
        "action": pa.string(),
        "priority": pa.int64(),
        "model_version": pa.string(),
        "at": pa.timestamp("us", tz="UTC"),
    }
    fields = [pa.field(c, types.get(c, pa.float64() if c.startswith("dim:") else pa.string())) for c in columns]
    schema = pa.schema(fields)
    table = pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows], schema=schema)
    pq.write_table(table, path)


_HEAD = ["lead_id", "score"]
_TAIL = ["stage", "action", "priority", "model_version", "at"]


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    """Fixed columns around the dimensions and label sets, which appear in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        for c in row:
            if c.startswith(("dim:", "label:")):
                seen.setdefault(c, None)
    dims = [c for c in seen if c.startswith("dim:")]
    labels = [c for c in seen if c.startswith("label:")]
    return [*_HEAD, *dims, *labels, *_TAIL]
