"""Parquet files, and directories of them, read batch by batch (pyarrow iter_batches).

Values keep their Parquet types (structs become dicts, lists stay lists); null is missing.
Timestamp columns become aware UTC datetimes: naive ones are taken as UTC, like ISO text without
an offset. There are no lines in Parquet, so rows are numbered from 1 within each file and errors
say `row N`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from leadscore.io.chunk import RawChunk
from leadscore.io.errors import DataFileError
from leadscore.io.formats import parquet_files

_fromisoformat = datetime.fromisoformat


def iter_parquet(path: Path, batch_size: int) -> Iterator[RawChunk]:
    for name, names, row, batch in parquet_batches(path, batch_size):
        yield chunk_of(name, names, row, batch)


def parquet_batches(path: Path, batch_size: int) -> Iterator[tuple[str, list[str], int, Any]]:
    """(file name, its columns, rows of the file before this batch, Arrow record batch) of every batch
    of the file or directory; a file without rows gives one None batch (its columns still checked)."""
    for file in parquet_files(path):
        yield from _file_batches(file, batch_size)


def _file_batches(path: Path, batch_size: int) -> Iterator[tuple[str, list[str], int, Any]]:
    from leadscore._extras import require

    require("batch", "reading Parquet files")
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = str(path)
    try:
        pf = pq.ParquetFile(path)
        names = list(pf.schema_arrow.names)
        row = 0
        found = False
        for batch in pf.iter_batches(batch_size=batch_size):
            found = True
            yield name, names, row, batch
            row += batch.num_rows
    except (OSError, pa.ArrowException) as exc:
        raise DataFileError.file_level(name, f"cannot read Parquet file: {exc}") from None
    if not found:
        yield name, names, 0, None


def chunk_of(name: str, names: list[str], row: int, batch: Any) -> RawChunk:
    """One record batch as the converters take it (rows numbered from `row` + 1); None: no rows."""
    if batch is None:
        return RawChunk(name, True, names, [], [], [], partial(_original, names, []), [], True)
    import pyarrow as pa

    try:
        plain = _plain_values(batch)
        columns = [_pylist(batch.column(i)) for i in range(batch.num_columns)]
    except pa.ArrowException as exc:
        raise DataFileError.file_level(name, f"cannot read Parquet file: {exc}") from None
    rows = list(zip(*columns, strict=True))
    lines = list(range(row + 1, row + 1 + len(rows)))
    return RawChunk(name, True, names, lines, rows, [], partial(_original, names, rows), [], row == 0, plain)


def _plain_values(batch: Any) -> bool:
    """No nested column and no NUL character in any text column (limits.py), found by Arrow kernels."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for column in batch.columns:
        kind = column.type
        if pa.types.is_nested(kind) or pa.types.is_dictionary(kind):
            return False
        if (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and pc.any(
            pc.match_substring(column, "\x00")
        ).as_py():
            return False
    return True


def _original(names: list[str], rows: Sequence[Sequence[Any]], i: int) -> dict[str, Any]:
    return dict(zip(names, rows[i], strict=True))


def _pylist(array: Any) -> list[Any]:
    """Python values of a column; timestamps via text, which is several times faster than to_pylist."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_timestamp(array.type):
        return list(array.to_pylist())
    naive = array.cast(pa.timestamp("us"), safe=False)  # tz-aware: the UTC wall clock
    texts = pc.binary_join_element_wise(naive.cast(pa.string()), "+00:00", "")
    fromiso = _fromisoformat
    try:
        return [None if t is None else fromiso(t) for t in texts.to_pylist()]
    except ValueError:  # a time past the years 1 to 9999 Python has: its text, which no check takes
        return [None if t is None else _time_or_text(t) for t in texts.to_pylist()]


def _time_or_text(text: str) -> datetime | str:
    try:
        return _fromisoformat(text)
    except ValueError:
        return text.removesuffix("+00:00")  # `<value out of range: N>`, refused as a timestamp
