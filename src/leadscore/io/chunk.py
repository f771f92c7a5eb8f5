"""The common shape every format reader produces: a chunk of raw rows with their line numbers.

Readers know about files (delimiters, JSON syntax, Parquet types); converters know about leads
and events. A chunk is the seam between the two, so each format is written once and each kind
of row is validated once, whatever the format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from leadscore.io.errors import RowError


@dataclass(slots=True)
class RawChunk:
    """Up to batch_size rows of one file, in one of two shapes.

    Tabular formats (CSV, Parquet) have `columns` and `rows`: sequences aligned with the columns,
    where None means missing (and, in CSV text columns, ""); converters look fields up by
    position, which is what makes them fast. JSON has `records` (one dict per object, None or an
    absent key meaning missing) and `columns` None. CSV readers leave the text columns named by
    the converter as text and coerce the others (values.py). `original(i)` rebuilds row i's
    fields exactly as read, for rejects files. `errors` are rows that could not even be split
    into fields (bad JSON, a wrong number of CSV fields).
    """

    file: str
    by_row: bool
    columns: list[str] | None
    lines: list[int]
    rows: Sequence[Sequence[Any]]
    records: list[dict[str, Any]]
    original: Callable[[int], dict[str, Any]]
    errors: list[RowError] = field(default_factory=list)
    first: bool = False  # first chunk of its file: where column checks happen
    # the reader found no NUL character and no nested value in the chunk's values (limits.py), so
    # converters check only the ids: a walk over every value costs as much as the conversion
    plain_values: bool = False
