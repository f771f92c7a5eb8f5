"""Reading lead and event files, writing rejects and results.

Inputs (format by extension): CSV / TSV / TXT with the delimiter detected among , ; tab |,
JSON Lines (.jsonl, .ndjson), a .json list of objects, Parquet files and directories of them.

- Events: `lead_id`, `type`, `timestamp` (ISO 8601; no offset means UTC), optional `id`; every
  other field is a property. Leads: `id` (or `lead_id`), unique in the file; the rest attributes.
- CSV cells are typed by values.coerce_cell: "12" -> 12, "1.5" -> 1.5, but "007", "nan" and
  "true" stay text. Empty cells, and JSON/Parquet nulls, are missing (absent), never None.
- `read_events` / `read_leads`: all or nothing, DataFileError listing what was wrong where.
- `iter_event_batches` / `iter_lead_batches`: bounded-memory batches of good items and RowErrors,
  for ingest; `RejectsWriter` keeps the bad rows with their reasons.
- `write_results` / `flatten_result`: scoring results as JSON, JSON Lines, CSV or Parquet.

Every problem is a RowError (`file:line:column: message`, `row N` for Parquet) inside a
DataFileError, a ValueError whose str() is ready to show to a user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadscore._extras import lazy_attributes

if TYPE_CHECKING:
    from leadscore.io.batches import (
        DEFAULT_BATCH_SIZE,
        Batch,
        iter_event_batches,
        iter_lead_batches,
        read_events,
        read_leads,
    )
    from leadscore.io.errors import DataFileError, RowError
    from leadscore.io.formats import Format, detect_format
    from leadscore.io.rejects import RejectsWriter
    from leadscore.io.results import dump_results, flatten_result, result_format, write_results
    from leadscore.io.values import coerce_cell

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "Batch",
    "DataFileError",
    "Format",
    "RejectsWriter",
    "RowError",
    "coerce_cell",
    "detect_format",
    "dump_results",
    "flatten_result",
    "iter_event_batches",
    "iter_lead_batches",
    "read_events",
    "read_leads",
    "result_format",
    "write_results",
]

# The names above are imported when first asked for (`_extras.lazy_attributes`): the batch engine
# reads Parquet in DuckDB and needs only the leaf modules (`io.errors`, `io.limits`, `io.formats`);
# importing the readers and writers with them cost a `--dedupe never` run about 4 ms.
_HOMES = {
    "DEFAULT_BATCH_SIZE": "batches",
    "Batch": "batches",
    "iter_event_batches": "batches",
    "iter_lead_batches": "batches",
    "read_events": "batches",
    "read_leads": "batches",
    "DataFileError": "errors",
    "RowError": "errors",
    "Format": "formats",
    "detect_format": "formats",
    "RejectsWriter": "rejects",
    "dump_results": "results",
    "flatten_result": "results",
    "result_format": "results",
    "write_results": "results",
    "coerce_cell": "values",
}

__getattr__ = lazy_attributes(__name__, _HOMES, globals())
