"""Which reader a path needs: by extension, and for CSV, which delimiter.

Formats: .csv / .tsv / .txt (delimited text), .jsonl / .ndjson (one object per line), .json (a
list of objects), .parquet, and a directory of .parquet files (read in file-name order, so that
part files written as part-00000, part-00001, ... keep their order).
"""

from __future__ import annotations

import csv
from enum import StrEnum
from pathlib import Path

from leadscore.io.errors import DataFileError

DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_CHARS = 64 * 1024
_SAMPLE_ROWS = 20


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    JSON = "json"
    PARQUET = "parquet"


_BY_SUFFIX = {
    ".csv": Format.CSV,
    ".tsv": Format.CSV,
    ".txt": Format.CSV,
    ".jsonl": Format.JSONL,
    ".ndjson": Format.JSONL,
    ".json": Format.JSON,
    ".parquet": Format.PARQUET,
}


def detect_format(path: Path) -> Format:
    """The format of `path`, or a DataFileError saying which extensions are understood."""
    if path.is_dir():
        if not parquet_files(path):
            raise DataFileError.file_level(str(path), "directory holds no .parquet files")
        return Format.PARQUET
    if not path.exists():
        raise DataFileError.file_level(str(path), "no such file")
    fmt = _BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_BY_SUFFIX))
        raise DataFileError.file_level(
            str(path), f"unknown file type {path.suffix or '(no extension)'!r}; expected one of {known}"
        )
    return fmt


def parquet_files(path: Path) -> list[Path]:
    """The .parquet files a path stands for: itself, or a directory's files in name order."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() == ".parquet" and p.is_file())
    return [path]


def sniff_delimiter(sample: str, preferred: str = ",") -> str:
    """The delimiter among , ; tab | that splits the first rows into the same, largest count.

    csv.Sniffer is avoided: it guesses from character frequencies and picks letters or spaces
    on small files. Here each candidate is parsed with quoting honoured; a candidate wins when
    the header splits into the most fields and the following rows agree with it.
    """
    lines_cut = not sample.endswith(("\n", "\r"))
    best, best_score = preferred, (0, 0)
    for delimiter in DELIMITERS:
        rows = _sample_rows(sample, delimiter)
        if lines_cut and len(rows) > 1:
            rows = rows[:-1]  # the last row may be cut short by the sample's end
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        agreeing = sum(1 for r in rows[1:] if len(r) == width)
        consistent = int(agreeing == len(rows) - 1)
        score = (consistent, width)
        if score > best_score or (score == best_score and delimiter == preferred):
            best, best_score = delimiter, score
    return best


def _sample_rows(sample: str, delimiter: str) -> list[list[str]]:
    rows: list[list[str]] = []
    try:
        for row in csv.reader(sample.splitlines(keepends=True), delimiter=delimiter):
            if row and any(cell.strip() for cell in row):
                rows.append(row)
            if len(rows) >= _SAMPLE_ROWS:
                break
    except csv.Error:
        pass
    return rows


def read_sample(path: Path) -> str:
    """The start of a text file, for sniffing; the BOM is dropped by the utf-8-sig codec."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        return f.read(_SAMPLE_CHARS)
