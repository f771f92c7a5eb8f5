"""Events of a Parquet file as the log stores them, converted column by column.

The strict ingest of a big file converts every row into an Event, checks it, then turns it back into
the log's row (key, lead, type, time stamp, properties as JSON text): about ten microseconds of
Python per row, more than the rest of the ingest. A record batch whose every value is one the row
path takes unchanged (`plain_event_rows`: ids and types of plain text, time stamps within Python's
years, property columns of text, whole numbers, floats or booleans within range, no event type the
model or the store checks further) is converted with Arrow kernels instead; its rows are the ones
the row path would stage, byte for byte (tests/io/test_event_rows.py compares them). Any other
batch goes through the row path (`events_of`), which names its bad rows: this module decides only
when the answer is certainly "no problem".
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any

from leadscore.domain import Event
from leadscore.domain.numbers import MAX_MAGNITUDE
from leadscore.domain.timeutil import to_micros
from leadscore.io.batches import Batch, event_batches
from leadscore.io.convert import EVENT_FIELDS, REJECTS_COLUMNS
from leadscore.io.limits import MAX_ID_CHARS
from leadscore.io.parquet_source import chunk_of, parquet_batches

_NOT_PROPERTIES = EVENT_FIELDS | REJECTS_COLUMNS
# time stamps whose text the row path reads back as the same instant (Arrow prints four-digit years)
_FIRST_US = to_micros(datetime(1000, 1, 1, tzinfo=UTC))
_LAST_US = to_micros(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
# an id or type the row path keeps as it is: no whitespace or control character (nor any non-ASCII
# character, of which Python strips some) at either end, no NUL anywhere
_EDGE = r"^[^\x21-\x7e]|[^\x21-\x7e]$"
# text JSON writes between quotes unchanged (json.dumps escapes everything else)
_ESCAPED = r'[^\x20-\x7e]|["\\]'


@dataclass(slots=True)
class EventRows:
    """Events of one batch as staged rows: event key (the id), lead id, type, epoch microseconds and
    properties as `json.dumps` writes them (keys in column order, missing values left out)."""

    keys: list[str]
    leads: list[str]
    types: list[str]
    ts: list[int]
    properties: list[str]

    def __len__(self) -> int:
        return len(self.keys)

    def tuples(self) -> Iterator[tuple[str, str, str, int, str]]:
        return zip(self.keys, self.leads, self.types, self.ts, self.properties, strict=True)


def iter_event_rows(
    path: str | Path, batch_size: int, checked_types: Collection[str]
) -> Iterator[EventRows | Batch[Event]]:
    """The events of a Parquet file (or directory) batch by batch: EventRows where a batch is plain,
    else the row path's Batch (good events and the errors of bad rows). `checked_types`: event types
    whose rows the caller checks or handles further (stage_set, identify): their batches take the row
    path."""
    skip = sorted(checked_types)
    for name, names, row, batch in parquet_batches(Path(path), batch_size):
        if batch is not None:
            was_enabled = gc.isenabled()
            gc.disable()  # tens of thousands of strings, no cycles (as `io.batches` does)
            try:
                rows = plain_event_rows(batch, skip)
            finally:
                if was_enabled:
                    gc.enable()
            if rows is not None:
                yield rows
                continue
        yield from event_batches(iter([chunk_of(name, names, row, batch)]))


def plain_event_rows(batch: Any, checked_types: Collection[str] = ()) -> EventRows | None:
    """The batch's staged rows when every row is plain (see the module), else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = list(batch.schema.names)
    if not batch.num_rows or len(set(names)) != len(names) or not {"id", "lead_id", "type", "timestamp"} <= set(names):
        return None
    cols = dict(zip(names, batch.columns, strict=True))
    keys, leads, types = (_plain_id(cols[c]) for c in ("id", "lead_id", "type"))
    ts = _micros(cols["timestamp"])
    if keys is None or leads is None or types is None or ts is None:
        return None
    if checked_types and pc.any(pc.is_in(types, value_set=pa.array(list(checked_types), pa.string()))).as_py():
        return None
    props = _properties(names, batch.columns, batch.num_rows)
    if props is None:
        return None
    return EventRows(keys.to_pylist(), leads.to_pylist(), types.to_pylist(), ts.to_pylist(), props)


def _plain_id(col: Any) -> Any:
    """The column as text when every value is an id the row path keeps unchanged, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)) or col.null_count:
        return None
    lengths = pc.min_max(pc.utf8_length(col)).as_py()
    if lengths["min"] < 1 or lengths["max"] > MAX_ID_CHARS:
        return None
    if pc.any(pc.match_substring_regex(col, _EDGE)).as_py() or pc.any(pc.match_substring(col, "\x00")).as_py():
        return None
    return col.cast(pa.string())


def _micros(col: Any) -> Any:
    """Epoch microseconds of a time stamp column (UTC whatever its zone, naive read as UTC), or None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_timestamp(col.type) or col.type.unit == "ns" or col.null_count:
        return None
    try:
        us = col.cast(pa.timestamp("us", col.type.tz)).cast(pa.int64())
    except pa.ArrowInvalid:  # out of int64's range in microseconds
        return None
    bounds = pc.min_max(us).as_py()
    if bounds["min"] < _FIRST_US or bounds["max"] > _LAST_US:
        return None
    return us


def _properties(names: list[str], columns: list[Any], n: int) -> list[str] | None:
    """Each row's properties as JSON text, or None when a column holds a value of another kind."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pieces = []
    for name, col in zip(names, columns, strict=True):
        if name in _NOT_PROPERTIES or col.null_count == len(col):
            continue
        value = _json_values(col)
        if value is None:
            return None
        pieces.append(pc.binary_join_element_wise(encode_basestring_ascii(name) + ": ", value, ""))
    if not pieces:
        return ["{}"] * n
    # a first piece never null, cut off after: pyarrow 26's join with null_handling="skip" drops the
    # rows where every input is null (the array comes back shorter) instead of giving them ""
    joined = pc.utf8_slice_codeunits(pc.binary_join_element_wise("", *pieces, ", ", null_handling="skip"), 2)
    text = pc.binary_join_element_wise("{", joined, "}", "").cast(pa.string())
    if len(text) != n:
        raise RuntimeError("pyarrow joined the properties into another number of rows than the batch has")
    return list(text.to_pylist())


def _json_values(col: Any) -> Any:
    """The column's values as JSON text (null where missing), or None for a kind not handled here."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = col.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if pc.any(pc.match_substring(col, "\x00")).as_py():
            return None  # the row path names the row
        if not pc.any(pc.match_substring_regex(col, _ESCAPED)).as_py():
            return pc.binary_join_element_wise('"', col.cast(pa.string()), '"', "")
        return pa.array([None if v is None else encode_basestring_ascii(v) for v in col.to_pylist()], pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(col, "true", "false")
    # (half floats read back as NumPy values, which the row path turns into other text)
    if pa.types.is_integer(kind) or pa.types.is_float32(kind) or pa.types.is_float64(kind):
        bounds = pc.min_max(col).as_py()
        if bounds["min"] is None or not -MAX_MAGNITUDE <= bounds["min"] <= bounds["max"] <= MAX_MAGNITUDE:
            return None
        if pa.types.is_integer(kind):
            return col.cast(pa.string())
        if pc.any(pc.is_nan(col)).as_py():
            return None
        # Python's repr of the double, as json.dumps writes it (Arrow's own formatting differs)
        return pa.array([None if v is None else float.__repr__(v) for v in col.to_pylist()], pa.string())
    return None
