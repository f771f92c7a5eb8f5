"""Text inputs of the batch engine (CSV, JSON Lines, JSON) read by `leadscore.io`, as `score` reads them.

DuckDB's own CSV reader has its own rules (quoting, encodings, timestamp formats, number typing), so
the same file could be refused by `score` and accepted by `batch`, or read differently. Here the one
reader of the project reads the file, with its checks (a bad row refuses the whole file, named
file:line:field, like `score`), and hands DuckDB typed columns: the lead id, type, id and time as
the reader made them, and each property or attribute split into `name::num` / `name::str` /
`name::bool` / `name::other` slots (schema.py) by the value's type, so a value is typed exactly once.

The rows are held in memory: text files are for small and medium runs; large data is Parquet,
which DuckDB reads directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json"})


def is_text_input(path: Path) -> bool:
    return path.suffix.lower() in TEXT_SUFFIXES and not path.is_dir()


def _slots(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Column name -> values, one slot per kind of value a name holds in some row."""
    kinds: dict[str, set[str]] = {}
    for row in rows:
        for name, value in row.items():
            kinds.setdefault(name, set()).add(_kind(value))
    columns: dict[str, Any] = {}
    for name in kinds:
        for kind in sorted(kinds[name]):
            columns[f"{name}::{kind}"] = [_slot(row.get(name), kind) for row in rows]
    return columns


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, str):
        return "str"
    return "other"


def _slot(value: Any, kind: str) -> Any:
    if value is None or _kind(value) != kind:
        return None
    if kind == "num":
        return float(value)
    if kind == "other":
        return type(value).__name__  # present, equal to nothing (as the pure scorer compares it)
    return value


def _typed(columns: dict[str, Any], fixed: Iterable[str]) -> pa.Table:
    import pyarrow as pa

    arrays = {}
    for name, values in columns.items():
        kind = name.rsplit("::", 1)[-1] if "::" in name and name not in fixed else None
        typ = {"num": pa.float64(), "str": pa.string(), "bool": pa.bool_(), "other": pa.string()}.get(kind or "")
        arrays[name] = pa.array(values, type=typ) if typ is not None else values
    return pa.table(arrays)


def events_table(path: Path) -> pa.Table:
    """The events of a text file, or DataFileError naming every bad row (as `score` refuses them)."""
    import pyarrow as pa

    from leadscore.io.batches import read_events  # a text input only: the reader's modules

    events = read_events(path)
    columns: dict[str, Any] = {
        "lead_id": pa.array([e.lead_id for e in events], pa.string()),
        "type": pa.array([e.type for e in events], pa.string()),
        "timestamp": pa.array([e.ts for e in events], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "id": pa.array([e.id for e in events], pa.string()),
        "_ls_ord": pa.array(range(len(events)), pa.int64()),
    }
    columns.update(_slots([e.properties for e in events]))
    return _typed(columns, ("lead_id", "type", "timestamp", "id", "_ls_ord"))


def leads_table(path: Path) -> pa.Table:
    """The leads of a text file, or DataFileError naming every bad row and repeated id."""
    import pyarrow as pa

    from leadscore.io.batches import read_leads

    leads = read_leads(path)
    columns: dict[str, Any] = {
        "id": pa.array([lead.id for lead in leads], pa.string()),
        "_ls_ord": pa.array(range(len(leads)), pa.int64()),
    }
    columns.update(_slots([lead.attributes for lead in leads]))
    return _typed(columns, ("id", "_ls_ord"))
