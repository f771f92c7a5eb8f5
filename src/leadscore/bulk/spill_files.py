"""Rows cut by lead id at the parts' bounds into one Arrow stream file per part (`export_spill`).

Used where the rows are read: by the store reader program (`adbc_reader`, SQLite: each reader cuts its
own batches and writes its own files) and by the process of the apply for the rows it reads itself
(PostgreSQL, whose database numbers each row's part, and a small SQLite table). Imports no more than
Arrow and NumPy: a reader process starts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import pyarrow as pa


def part_of(lead_ids: pa.Array | pa.ChunkedArray, starts: Sequence[str]) -> np.ndarray:
    """Each id's part: how many of the parts' starts after the first are at or below it (byte order)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    out = np.zeros(len(lead_ids), dtype=np.int32)
    for start in starts[1:]:
        out += pc.greater_equal(lead_ids, pa.scalar(start, pa.string())).to_numpy(zero_copy_only=False)
    return out


def file_name(part: int, reader: int) -> str:
    """A part's file of one reader: the names of a part's files sort in their readers' order."""
    return f"p{part:06d}-r{reader:03d}.arrow"


class PartFiles:
    """One reader's rows appended, batch after batch, to one stream file per part in `folder`."""

    def __init__(self, folder: Path, schema: pa.Schema, reader: int) -> None:
        self.folder, self.schema, self.reader = folder, schema, reader
        self.paths: dict[int, Path] = {}
        self._writers: dict[int, Any] = {}
        self._sinks: list[Any] = []

    def write(self, rows: pa.Table, parts: np.ndarray, n_parts: int) -> None:
        """`rows` (of `schema`), each into its part's file (`parts`: each row's part), in their order."""
        import numpy as np
        import pyarrow as pa

        counts = np.bincount(parts, minlength=n_parts)
        present = counts.nonzero()[0]
        if len(present) > 1:  # a stable sort by part keeps each part's rows in their order
            rows = rows.take(pa.array(np.argsort(parts, kind="stable")))
        lo = 0
        for part in present:
            n = int(counts[part])
            self._writer(int(part)).write_table(rows.slice(lo, n))
            lo += n

    def _writer(self, part: int) -> Any:
        import pyarrow as pa

        if part not in self._writers:
            path = self.folder / file_name(part, self.reader)
            self.paths[part] = path
            self._sinks.append(pa.OSFile(str(path), "wb"))
            self._writers[part] = pa.ipc.new_stream(self._sinks[-1], self.schema)
        return self._writers[part]

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        for sink in self._sinks:
            sink.close()
        self._writers.clear()
        self._sinks.clear()
