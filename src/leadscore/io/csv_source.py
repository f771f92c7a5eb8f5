"""Delimited text: delimiter sniffed (, ; tab |), quoted fields, UTF-8 with or without BOM.

Streams with the csv module, so memory is bounded by one chunk whatever the file size. Line
numbers are physical lines: the header is line 1 and a row whose quoted field spans lines is
reported at the line it starts on.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from leadscore.io.chunk import RawChunk
from leadscore.io.errors import DataFileError, RowError
from leadscore.io.formats import read_sample, sniff_delimiter
from leadscore.io.values import NUMERIC_START, coerce_cell


def iter_csv(path: Path, batch_size: int, text_columns: frozenset[str]) -> Iterator[RawChunk]:
    """Chunks of rows; cells in `text_columns` are only stripped, others coerced (values.py)."""
    name = str(path)
    preferred = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        delimiter = sniff_delimiter(read_sample(path), preferred)
        f = path.open("rb")
    except OSError as exc:
        raise DataFileError.file_level(name, f"cannot read file: {exc.strerror or exc}") from None
    with f:
        undecodable: set[int] = set()
        nul_lines: set[int] = set()  # since the chunk in progress began
        # strict: a quote that does not close where it should is an error, not silently part of a value
        reader = csv.reader(decoded_lines(f, undecodable, nul_lines), delimiter=delimiter, strict=True)
        try:
            yield from _chunks(name, reader, batch_size, text_columns, undecodable, nul_lines)
        except csv.Error as exc:
            raise DataFileError([RowError(name, reader.line_num, None, None, f"bad CSV: {exc}")]) from None


def decoded_lines(f: BinaryIO, undecodable: set[int], nul_lines: set[int] | None = None) -> Iterator[str]:
    """The file's lines as text, decoded one by one so that a byte that is not UTF-8 is reported on
    its own line: such a line is decoded with replacement characters and its number put in
    `undecodable`, for the row that holds it to be refused. Lines holding a NUL byte go to
    `nul_lines` (a cheap test on the bytes). A UTF-8 BOM is dropped."""
    for number, line in enumerate(f, start=1):
        raw = line
        if nul_lines is not None and b"\x00" in raw:
            nul_lines.add(number)
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            undecodable.add(number)
            yield raw.decode("utf-8", "replace")


def _chunks(
    name: str,
    reader: Any,
    batch_size: int,
    text_columns: frozenset[str],
    undecodable: set[int],
    nul_lines: set[int],
) -> Iterator[RawChunk]:
    header = _header(name, reader)
    if undecodable:
        raise DataFileError([RowError(name, min(undecodable), None, None, "not UTF-8 text in the header")])
    width = len(header)
    typed = [j for j, col in enumerate(header) if col not in text_columns]
    numeric_start = NUMERIC_START
    strip = str.strip
    first = True
    prev = reader.line_num
    lines: list[int] = []
    rows: list[list[Any]] = []
    raws: list[list[str]] = []
    errors: list[RowError] = []
    original = partial(_original_at, header, raws)
    while True:
        start = prev + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # quoting the reader cannot follow: this row is refused, the next read
            prev = reader.line_num
            errors.append(RowError(name, start, None, None, _quote_message(exc, start, prev)))
            continue
        prev = reader.line_num
        cells: list[Any] = list(map(strip, row))
        if not any(cells):
            continue  # blank line, or a row of empty cells
        if undecodable and not undecodable.isdisjoint(range(start, prev + 1)):
            bad = next((header[j] for j, c in enumerate(row[:width]) if "\ufffd" in c), None)
            line = min(undecodable & set(range(start, prev + 1)))
            message = "not UTF-8 text (save the file as UTF-8)"
            errors.append(RowError(name, line, bad, None, message, record=_original(header, row)))
        elif len(row) != width:
            message = f"expected {width} fields, found {len(row)}"
            errors.append(RowError(name, start, None, None, message, record=_original(header, row)))
        else:
            for j in typed:
                cell = cells[j]
                if not cell:
                    cells[j] = None
                elif cell[0] in numeric_start:
                    cells[j] = coerce_cell(cell)
            lines.append(start)
            rows.append(cells)
            raws.append(row)
        if len(rows) + len(errors) >= batch_size:
            yield RawChunk(name, False, header, lines, rows, [], original, errors, first, not nul_lines)
            nul_lines.clear()
            first = False
            lines, rows, raws, errors = [], [], [], []
            original = partial(_original_at, header, raws)
    if rows or errors or first:
        yield RawChunk(name, False, header, lines, rows, [], original, errors, first, not nul_lines)


def _quote_message(exc: csv.Error, start: int, end: int) -> str:
    if "unexpected end of data" in str(exc):
        return f"bad CSV: a quote opened in this row is never closed (lines {start} to {end} are inside it)"
    return f"bad CSV: {exc}"


def _header(name: str, reader: Any) -> list[str]:
    for row in reader:
        if any(cell.strip() for cell in row):
            header = [cell.strip() for cell in row]
            break
    else:
        raise DataFileError.file_level(name, "empty file: expected a header row with column names")
    line = reader.line_num
    if "" in header:
        position = header.index("") + 1
        raise DataFileError([RowError(name, line, None, None, f"column {position} has no name")])
    seen: set[str] = set()
    for col in header:
        if col in seen:
            raise DataFileError([RowError(name, line, col, None, f"duplicate column name {col!r}")])
        seen.add(col)
    return header


def _original_at(header: list[str], raws: list[list[str]], i: int) -> dict[str, Any]:
    return _original(header, raws[i])


def _original(header: list[str], row: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(zip(header, row, strict=False))
    for k, extra in enumerate(row[len(header) :], start=1):
        out[f"_extra_{k}"] = extra
    return out
