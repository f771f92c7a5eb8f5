"""Reading leads and events: streamed in batches (for ingest), or whole with strict errors.

Streaming: `iter_event_batches(path)` / `iter_lead_batches(path)` yield `Batch`es of at most
`batch_size` rows, with the good rows as Event/Lead objects and the bad ones as RowErrors, so a
caller decides: refuse the file (the default of `leadscore ingest`) or keep the good rows and
write the bad ones to a rejects file (`--skip-invalid`, see rejects.py). Memory is bounded by one
batch whatever the file size (a .json list excepted, which is read whole). A problem with the
whole file (unknown format, missing column, undecodable text) raises DataFileError at once.

Whole file: `read_events(path)` / `read_leads(path)` return every item or raise a DataFileError
listing the bad rows; nothing is returned from a file with any bad row.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Generic, TypeVar

from leadscore.domain import Event, Lead
from leadscore.io.chunk import RawChunk
from leadscore.io.convert import EVENT_FIELDS, LEAD_ID_COLUMNS, LeadConverter, check_event_columns, events_of
from leadscore.io.errors import MAX_SHOWN, DataFileError, RowError
from leadscore.io.formats import Format, detect_format

T = TypeVar("T", Event, Lead)
DEFAULT_BATCH_SIZE = 50_000


@dataclass(slots=True)
class Batch(Generic[T]):
    """Good items with the line (Parquet: row) each came from, and the errors of the bad rows."""

    items: list[T] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def add(self, item: T, line: int) -> None:
        self.items.append(item)
        self.lines.append(line)


def raw_chunks(path: str | PathLike[str], batch_size: int, text_columns: frozenset[str]) -> Iterator[RawChunk]:
    """The file's rows in chunks, whatever its format (formats.py picks the reader)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    p = Path(path)
    fmt = detect_format(p)
    if fmt is Format.CSV:
        from leadscore.io.csv_source import iter_csv

        return iter_csv(p, batch_size, text_columns)
    if fmt is Format.JSONL:
        from leadscore.io.json_source import iter_jsonl

        return iter_jsonl(p, batch_size)
    if fmt is Format.JSON:
        from leadscore.io.json_source import iter_json_list

        return iter_json_list(p, batch_size)
    from leadscore.io.parquet_source import iter_parquet

    return iter_parquet(p, batch_size)


def iter_event_batches(path: str | PathLike[str], batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Batch[Event]]:
    """Events of a file: `lead_id`, `type`, `timestamp` required, optional `id`, the rest properties.

    An unknown format or a missing file raises here; problems inside the file, while iterating.
    """
    return event_batches(raw_chunks(path, batch_size, EVENT_FIELDS))


def iter_lead_batches(path: str | PathLike[str], batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Batch[Lead]]:
    """Leads of a file: an `id` (or `lead_id`) column, unique within the file; the rest attributes."""
    return _lead_batches(raw_chunks(path, batch_size, frozenset(LEAD_ID_COLUMNS)))


def event_batches(chunks: Iterator[RawChunk]) -> Iterator[Batch[Event]]:
    """Chunks of events converted row by row: their good events and the errors of their bad rows."""

    def convert(chunk: RawChunk) -> Batch[Event]:
        check_event_columns(chunk)
        batch: Batch[Event] = Batch(errors=list(chunk.errors))
        events_of(chunk, batch.add, batch.errors)
        return batch

    return _batches(chunks, convert)


def _lead_batches(chunks: Iterator[RawChunk]) -> Iterator[Batch[Lead]]:
    converter = LeadConverter()

    def convert(chunk: RawChunk) -> Batch[Lead]:
        batch: Batch[Lead] = Batch(errors=list(chunk.errors))
        converter.leads_of(chunk, batch.add, batch.errors)
        return batch

    return _batches(chunks, convert)


def _batches(chunks: Iterator[RawChunk], convert: Callable[[RawChunk], Batch[T]]) -> Iterator[Batch[T]]:
    """Read and convert chunk by chunk, with the cyclic garbage collector paused meanwhile.

    Building a batch allocates hundreds of thousands of objects, none of them in reference
    cycles; each allocation burst would trigger collections that walk every live object, which
    costs about as much as the parsing itself. The collector runs again as soon as the batch
    is handed over, so the caller's code is unaffected.
    """
    while True:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            chunk = next(chunks, None)
            if chunk is None:
                return
            batch = convert(chunk)
        finally:
            if was_enabled:
                gc.enable()
        if batch.items or batch.errors:
            batch.errors.sort(key=_line_of)
            yield batch


def read_events(path: str | PathLike[str]) -> list[Event]:
    """Every event of the file, or DataFileError naming the bad rows (the strict default)."""
    return _read_all(iter_event_batches(path))


def read_leads(path: str | PathLike[str]) -> list[Lead]:
    """Every lead of the file, or DataFileError naming the bad rows and duplicate ids."""
    return _read_all(iter_lead_batches(path))


def _read_all(batches: Iterator[Batch[T]]) -> list[T]:
    items: list[T] = []
    shown: list[RowError] = []
    total = 0
    for batch in batches:
        total += len(batch.errors)
        if total:
            items.clear()  # they will not be returned; do not hold them
            if len(shown) < MAX_SHOWN:
                shown.extend(batch.errors[: MAX_SHOWN - len(shown)])
        else:
            items.extend(batch.items)
    if total:
        raise DataFileError(shown, total)
    return items


_line_of: Callable[[RowError], int] = lambda e: e.line or 0  # noqa: E731
