"""Raw records into Events and Leads, with a RowError for every field that is wrong.

One row may have several problems (no lead id and a bad timestamp): all of them are reported,
so that a user fixes the file in one pass. A row with any problem yields no item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from leadscore.domain import Event, Lead
from leadscore.domain.numbers import MAX_MAGNITUDE, bad_numbers
from leadscore.io.chunk import RawChunk
from leadscore.io.errors import DataFileError, RowError
from leadscore.io.limits import MAX_ID_CHARS, NUL, id_problem, key_problem, value_problem
from leadscore.io.values import id_text, to_timestamp

#: A rejects file's notes (io/rejects.py): a fixed rejects file ingested again brings its rows, not these.
REJECTS_COLUMNS = frozenset({"_line", "_error"})
EVENT_FIELDS = frozenset({"lead_id", "type", "timestamp", "id"})
_NOT_PROPERTIES = EVENT_FIELDS | REJECTS_COLUMNS
Problem = tuple[str, Any, str]  # column, value, message
EVENT_REQUIRED = ("lead_id", "type", "timestamp")
LEAD_ID_COLUMNS = ("id", "lead_id")


def check_event_columns(chunk: RawChunk) -> None:
    """A file whose header lacks a required column fails as a whole, before any row."""
    if chunk.columns is None:
        return
    missing = [c for c in EVENT_REQUIRED if c not in chunk.columns]
    if missing:
        raise _missing_columns(chunk, missing)


def lead_id_column(chunk: RawChunk) -> str:
    """The column holding the lead id in a tabular file (JSON decides per object)."""
    present = [c for c in LEAD_ID_COLUMNS if c in (chunk.columns or ())]
    if not present:
        raise _missing_columns(chunk, ["id"], hint=" (or 'lead_id')")
    if len(present) > 1:
        raise DataFileError.file_level(
            chunk.file, "both 'id' and 'lead_id' columns found: keep one as the lead id", "id"
        )
    return present[0]


def missing_columns_text(missing: list[str], found: list[str], hint: str = "") -> str:
    """What a file without the columns `missing` is refused with (the reader's, and the batch engines')."""
    names = ", ".join(repr(c) for c in missing)
    plural = "s" if len(missing) > 1 else ""
    return f"missing required column{plural} {names}{hint}; columns found: {', '.join(found) or 'none'}"


def _missing_columns(chunk: RawChunk, missing: list[str], hint: str = "") -> DataFileError:
    text = missing_columns_text(missing, list(chunk.columns or []), hint)
    return DataFileError.file_level(chunk.file, text, missing[0])


class _Row:
    """Collects the errors of the row being converted."""

    __slots__ = ("chunk", "errors", "index", "line")

    def __init__(self, chunk: RawChunk, index: int) -> None:
        self.chunk = chunk
        self.index = index
        self.line = chunk.lines[index]
        self.errors: list[RowError] = []

    def fail(self, column: str, value: Any, message: str) -> None:
        record = self.errors[0].record if self.errors else self.chunk.original(self.index)
        self.errors.append(RowError(self.chunk.file, self.line, column, value, message, self.chunk.by_row, record))


def _id_field(row: _Row, column: str, value: Any, what: str) -> str | None:
    text = id_text(value) if value is not None else None
    if text is None:
        if value is None or (isinstance(value, str) and not value.strip()):
            row.fail(column, value, f"missing {what}")
        else:
            row.fail(column, value, f"not a valid {what}: {value!r} (expected text or a whole number)")
    return text


def _numbers_ok(values: dict[str, Any]) -> bool:
    """Every number finite and within the accepted range (`domain.numbers`); the common case (text,
    plain numbers in range) is decided without a call per value: this runs for every row."""
    for v in values.values():
        t = type(v)
        if t is str:
            continue
        if t is float or t is int:
            if not -MAX_MAGNITUDE <= v <= MAX_MAGNITUDE:  # NaN fails this comparison too
                return False
        elif (t is dict or t is list) and next(bad_numbers(v), None) is not None:
            return False
    return True


def _fail_numbers(row: _Row, values: dict[str, Any]) -> None:
    for name, value in values.items():
        for path, problem in bad_numbers(value, name):
            row.fail(path, value, problem)


def _event_fields(chunk: RawChunk) -> Iterator[tuple[Any, Any, Any, Any, dict[str, Any]]]:
    """(lead_id, type, timestamp, id, properties) of each row, as read, whatever the chunk's shape."""
    if chunk.columns is None:
        fields = _NOT_PROPERTIES
        for rec in chunk.records:
            props = {k: v for k, v in rec.items() if v is not None and k not in fields}
            yield rec.get("lead_id"), rec.get("type"), rec.get("timestamp"), rec.get("id"), props
        return
    index = {c: j for j, c in enumerate(chunk.columns)}
    il, it, its = index["lead_id"], index["type"], index["timestamp"]
    plan = [(j, c) for j, c in enumerate(chunk.columns) if c not in _NOT_PROPERTIES]
    iid = index.get("id")
    for vals in chunk.rows:
        props = {c: v for j, c in plan if (v := vals[j]) is not None}
        yield vals[il], vals[it], vals[its], None if iid is None else vals[iid], props


def events_of(chunk: RawChunk, emit: Callable[[Event, int], None], errors: list[RowError]) -> None:
    """Convert every row of `chunk`; good rows go to emit(event, line), problems to `errors`."""
    lines = chunk.lines
    plain_values = chunk.plain_values
    for i, (lead_raw, type_raw, ts_raw, id_raw, props) in enumerate(_event_fields(chunk)):
        lead_id = lead_raw.strip() if type(lead_raw) is str else id_text(lead_raw)
        typ = type_raw.strip() if type(type_raw) is str else None
        if id_raw is None or id_raw == "":
            id_raw = event_id = None
        else:
            event_id = id_raw.strip() if type(id_raw) is str else id_text(id_raw)
        try:
            timestamp = to_timestamp(ts_raw)
            ts_error = None
        except ValueError as exc:
            ts_error = str(exc)
        limits = _limits(lead_id, typ, event_id, None if plain_values else props)
        # numbers are checked on rows within the limits only: a too-deep value is refused for its depth
        numbers_ok = limits is not None or _numbers_ok(props)
        bad_id = id_raw is not None and not event_id
        if not lead_id or not typ or ts_error is not None or bad_id or limits or not numbers_ok:
            row = _Row(chunk, i)
            for column, value, message in limits or ():
                row.fail(column, value, message)
            if not lead_id:
                _id_field(row, "lead_id", lead_raw, "lead id")
            if not typ:
                if type_raw is None or typ == "":
                    row.fail("type", type_raw, "missing event type")
                else:
                    row.fail("type", type_raw, f"event type must be text, found {type_raw!r}")
            if ts_error is not None:
                message = "missing timestamp" if ts_raw is None or ts_raw == "" else ts_error
                row.fail("timestamp", ts_raw, message)
            if id_raw is not None and not event_id:
                _id_field(row, "id", id_raw, "event id")
            if not numbers_ok:
                _fail_numbers(row, props)
            errors.extend(row.errors)
            continue
        emit(Event(lead_id, typ, timestamp, props, event_id), lines[i])


def _limits(
    lead_id: str | None, typ: str | None, event_id: str | None, props: dict[str, Any] | None
) -> list[Problem] | None:
    """What a database or another command cannot take in the row (limits.py); None for a clean row.
    `props` None: the reader found the values plain (no NUL, no nesting)."""
    ids = (lead_id or "", typ or "", event_id or "")
    if max(map(len, ids)) > MAX_ID_CHARS or NUL in "".join(ids):
        out: list[Problem] = []
        for column, text, what in zip(("lead_id", "type", "id"), ids, ("lead id", "event type", "id"), strict=True):
            if text and (message := id_problem(text, what)):
                out.append((column, text, message))
    else:
        out = []
    if props is not None:
        out += _value_limits(props)
    return out or None


def _value_limits(values: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    for key, value in values.items():
        message = key_problem(key) or value_problem(value)
        if message:
            out.append((key, value if type(value) is str else None, message))
    return out


class LeadConverter:
    """Leads of one input (a file, or a directory of Parquet files); remembers ids to catch duplicates.

    Only the ids and where they were first seen are kept, so memory grows with the number of
    leads, not with the size of their rows.
    """

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, int, bool]] = {}  # id -> (file, line, by_row)

    def leads_of(self, chunk: RawChunk, emit: Callable[[Lead, int], None], errors: list[RowError]) -> None:
        seen = self.seen
        lines = chunk.lines
        for i, (column, raw, attributes) in enumerate(_lead_fields(chunk)):
            lead_id = raw.strip() if type(raw) is str else (id_text(raw) if raw is not None else None)
            limits = [] if chunk.plain_values else _value_limits(attributes)
            if lead_id and (message := id_problem(lead_id, "lead id")):
                limits.insert(0, (column or "id", lead_id, message))
            numbers_ok = bool(limits) or _numbers_ok(attributes)
            if column is None or not lead_id or lead_id in seen or limits or not numbers_ok:
                row = _Row(chunk, i)
                for col, value, problem in limits:
                    row.fail(col, value, problem)
                if not numbers_ok:
                    _fail_numbers(row, attributes)
                if column is None:
                    row.fail("id", raw, "both 'id' and 'lead_id' given: keep one as the lead id")
                elif not lead_id:
                    _id_field(row, column, raw, "lead id")
                elif lead_id in seen:
                    row.fail(column, raw, f"duplicate lead id {lead_id!r} (first {_where(seen[lead_id], chunk)})")
                errors.extend(row.errors)
                continue
            line = lines[i]
            seen[lead_id] = (chunk.file, line, chunk.by_row)
            emit(Lead(lead_id, attributes), line)


def _lead_fields(chunk: RawChunk) -> Iterator[tuple[str | None, Any, dict[str, Any]]]:
    """(id column, id as read, attributes) of each row; the column is None when it is ambiguous."""
    if chunk.columns is None:
        for rec in chunk.records:
            column = _json_id_column(rec)
            raw = rec.get(column) if column else rec.get("id")
            yield (
                column,
                raw,
                {k: v for k, v in rec.items() if v is not None and k != column and k not in REJECTS_COLUMNS},
            )
        return
    column = lead_id_column(chunk)
    iid = chunk.columns.index(column)
    plan = [(j, c) for j, c in enumerate(chunk.columns) if j != iid and c not in REJECTS_COLUMNS]
    for vals in chunk.rows:
        yield column, vals[iid], {c: v for j, c in plan if (v := vals[j]) is not None}


def _where(first: tuple[str, int, bool], chunk: RawChunk) -> str:
    file, line, by_row = first
    place = f"row {line}" if by_row else f"line {line}"
    return f"on {place}" if file == chunk.file else f"in {file} on {place}"


def _json_id_column(rec: dict[str, Any]) -> str | None:
    has_id = rec.get("id") is not None
    has_lead_id = rec.get("lead_id") is not None
    if has_id and has_lead_id:
        return None
    return "lead_id" if has_lead_id else "id"
