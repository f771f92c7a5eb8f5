"""Output files: leads.parquet, events/part-NNNNN.parquet (one per chunk), optional CSV, manifest.json.

Files are written in a fixed way (no wall-clock values, fixed compression) so that the same arguments
give the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from leadscore.generate.errors import GenerateError

_COMPRESSION = "zstd"
_ROW_GROUP = 1_000_000
_SECONDS = pa.timestamp("s", tz="UTC")


def prepare(out_dir: Path) -> Path:
    """Create the output directory, prove it writable, and clear data files of an earlier run."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "events").mkdir(exist_ok=True)
        probe = out_dir / ".leadscore-write-test"
        probe.write_bytes(b"")
        probe.unlink()
        stale = [*(out_dir / "events").glob("part-*.parquet"), out_dir / "leads.csv", out_dir / "events.csv"]
        for old in stale:
            old.unlink(missing_ok=True)
    except OSError as exc:
        raise GenerateError(f"--out: cannot write to {out_dir}: {exc.strerror or exc}") from None
    return out_dir


def _csv_ready(table: pa.Table) -> pa.Table:
    """ISO 8601 UTC text for timestamps ("2026-01-31T09:15:00Z"), the form every reader agrees on."""
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            seconds = pc.cast(table.column(i), _SECONDS, safe=False)
            table = table.set_column(i, field.name, pc.strftime(seconds, "%Y-%m-%dT%H:%M:%SZ"))
    return table


class OutputWriter:
    def __init__(self, out_dir: Path, leads_schema: pa.Schema, events_schema: pa.Schema, csv: bool) -> None:
        self.out_dir = prepare(out_dir)
        self.events_schema = events_schema
        self.files: list[str] = ["leads.parquet"]
        self._leads = pq.ParquetWriter(out_dir / "leads.parquet", leads_schema, compression=_COMPRESSION)
        self._leads_csv: pcsv.CSVWriter | None = None
        self._events_csv: pcsv.CSVWriter | None = None
        if csv:
            self._leads_csv = pcsv.CSVWriter(out_dir / "leads.csv", _csv_ready(leads_schema.empty_table()).schema)
            self._events_csv = pcsv.CSVWriter(out_dir / "events.csv",
                                              _csv_ready(events_schema.empty_table()).schema)
            self.files += ["leads.csv", "events.csv"]

    def write(self, index: int, leads: pa.Table, events: pa.Table) -> None:
        self._leads.write_table(leads)
        name = f"events/part-{index:05d}.parquet"
        with pq.ParquetWriter(self.out_dir / name, self.events_schema, compression=_COMPRESSION) as part:
            part.write_table(events, row_group_size=_ROW_GROUP)
        self.files.append(name)
        if self._leads_csv is not None and self._events_csv is not None:
            self._leads_csv.write_table(_csv_ready(leads))
            self._events_csv.write_table(_csv_ready(events))

    def close(self, manifest: dict[str, Any]) -> None:
        self._leads.close()
        for writer in (self._leads_csv, self._events_csv):
            if writer is not None:
                writer.close()
        text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
        (self.out_dir / "manifest.json").write_text(text, encoding="utf-8")
