"""JSON Lines (one object per line, streamed) and .json files holding a list of objects.

Values keep their JSON types; null means missing; nested objects and lists are kept as they are.
A .json list is read whole (the format has no line boundaries to stream on); use JSON Lines for
large files. Its rows are still reported at the physical line where each object starts.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from leadscore.io.chunk import RawChunk
from leadscore.io.csv_source import decoded_lines
from leadscore.io.errors import DataFileError, RowError
from leadscore.io.limits import MAX_DEPTH

_decoder = json.JSONDecoder()
_WS = " \t\r\n"
TOO_DEEP = f"nested too deeply (at most {MAX_DEPTH} levels)"


def iter_jsonl(path: Path, batch_size: int) -> Iterator[RawChunk]:
    name = str(path)
    try:
        f = path.open("rb")
    except OSError as exc:
        raise DataFileError.file_level(name, f"cannot read file: {exc.strerror or exc}") from None
    builder = _ChunkBuilder(name)
    undecodable: set[int] = set()
    with f:
        for number, text in enumerate(decoded_lines(f, undecodable), start=1):
            if not text.strip():
                continue
            if number in undecodable:
                builder.bad(number, "not UTF-8 text (save the file as UTF-8)", {"_raw": text.rstrip("\r\n")})
            else:
                try:
                    obj = json.loads(text)
                except ValueError as exc:
                    builder.bad(number, f"not valid JSON: {_json_reason(exc)}", {"_raw": text.rstrip("\r\n")})
                except RecursionError:
                    builder.bad(number, f"not valid JSON: {TOO_DEEP}", {"_raw": text[:200]})
                else:
                    builder.add(number, obj)
            if builder.size >= batch_size:
                yield builder.take()
    yield from builder.rest()


def iter_json_list(path: Path, batch_size: int) -> Iterator[RawChunk]:
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError.file_level(name, f"cannot read file: {exc.strerror or exc}") from None
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataFileError([RowError(name, line, None, None, "not UTF-8 text (save the file as UTF-8)")]) from None
    del raw
    builder = _ChunkBuilder(name)
    pos, line = _skip_ws(text, 0), 1
    line += text.count("\n", 0, pos)
    if pos >= len(text) or text[pos] != "[":
        raise DataFileError.file_level(name, "a .json file must hold a list of objects; use .jsonl for one per line")
    pos += 1
    while True:
        new = _skip_ws(text, pos)
        line += text.count("\n", pos, new)
        pos = new
        if pos < len(text) and text[pos] == "]" and builder.count == 0:
            break
        try:
            obj, end = _decoder.raw_decode(text, pos)
        except ValueError as exc:
            raise DataFileError([RowError(name, line, None, None, f"not valid JSON: {_json_reason(exc)}")]) from None
        except RecursionError:
            raise DataFileError([RowError(name, line, None, None, f"not valid JSON: {TOO_DEEP}")]) from None
        builder.add(line, obj)
        if builder.size >= batch_size:
            yield builder.take()
        line += text.count("\n", pos, end)
        new = _skip_ws(text, end)
        line += text.count("\n", end, new)
        pos = new
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "]":
            break
        raise DataFileError([RowError(name, line, None, None, "not valid JSON: expected ',' or ']'")])
    yield from builder.rest()


class _ChunkBuilder:
    """Collects objects into RawChunks; for JSON the original record is the object itself."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.first = True
        self.lines: list[int] = []
        self.records: list[dict[str, Any]] = []
        self.errors: list[RowError] = []

    @property
    def size(self) -> int:
        return len(self.records) + len(self.errors)

    def add(self, line: int, obj: Any) -> None:
        if isinstance(obj, dict):
            self.count += 1
            self.lines.append(line)
            self.records.append(obj)
        else:
            kind = type(obj).__name__ if obj is not None else "null"
            self.bad(line, f"expected a JSON object, found {kind}", {"_raw": json.dumps(obj)})

    def bad(self, line: int, message: str, record: dict[str, Any]) -> None:
        self.count += 1
        self.errors.append(RowError(self.name, line, None, None, message, record=record))

    def take(self) -> RawChunk:
        records = self.records
        chunk = RawChunk(self.name, False, None, self.lines, [], records, records.__getitem__, self.errors, self.first)
        self.first = False
        self.lines, self.records, self.errors = [], [], []
        return chunk

    def rest(self) -> Iterator[RawChunk]:
        if self.size or self.first:
            yield self.take()


def _skip_ws(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in _WS:
        pos += 1
    return pos


def _json_reason(exc: ValueError) -> str:
    msg = getattr(exc, "msg", None)
    return str(msg) if msg else str(exc)
