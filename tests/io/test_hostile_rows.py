"""Hostile rows every reader refuses with file:line:field (or takes as data), never with a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadscore.io import DataFileError, iter_event_batches, iter_lead_batches, read_events, read_leads
from leadscore.io.limits import MAX_DEPTH, MAX_ID_CHARS

GOOD = {"lead_id": "a", "type": "visit", "timestamp": "2026-05-01T00:00:00Z"}


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def errors_of(path: Path, leads: bool = False) -> list[str]:
    batches = iter_lead_batches(path) if leads else iter_event_batches(path)
    return [e.location + ": " + e.message for b in batches for e in b.errors]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 100_000])
def test_deep_nesting_is_a_row_error(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "events.jsonl"
    deep = json.dumps({**GOOD, "tags": "X"}).replace('"X"', "[" * depth + "1" + "]" * depth)
    path.write_text(json.dumps(GOOD) + "\n" + deep + "\n" + json.dumps(GOOD) + "\n")
    found = errors_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:2") and "nested" in found[0]
    assert sum(len(b.items) for b in iter_event_batches(path)) == 2
    as_list = tmp_path / "events.json"
    as_list.write_text("[\n" + json.dumps(GOOD) + ",\n" + deep + "\n]")
    with pytest.raises(DataFileError, match=rf"{as_list.name}:3.*nested"):
        read_events(as_list)


def test_nesting_up_to_the_limit_is_data(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({**GOOD, "tags": nested(MAX_DEPTH - 1)}) + "\n")
    assert len(read_events(path)) == 1


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({**GOOD, "lead_id": "a\x00b"}, "lead_id"),
        ({**GOOD, "type": "vi\x00sit"}, "type"),
        ({**GOOD, "id": "e\x00"}, "id"),
        ({**GOOD, "note": "x\x00y"}, "note"),
        ({**GOOD, "meta": {"k": ["ok", "bad\x00"]}}, "meta"),
        ({**GOOD, "ke\x00y": 1}, "ke\x00y"),
        ({**GOOD, "lead_id": "L" * (MAX_ID_CHARS + 1)}, "lead_id"),
        ({**GOOD, "id": "E" * (MAX_ID_CHARS + 1)}, "id"),
        ({**GOOD, "type": "T" * (MAX_ID_CHARS + 1)}, "type"),
    ],
    ids=["nul-lead", "nul-type", "nul-id", "nul-value", "nul-nested", "nul-key", "long-lead", "long-id", "long-type"],
)
def test_what_a_database_refuses_is_refused_by_the_reader(tmp_path: Path, row: dict[str, object], field: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(row) + "\n")
    found = errors_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:2:{field}:"), found
    assert sum(len(b.items) for b in iter_event_batches(path)) == 1


def test_ids_at_the_limit_are_data(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({**GOOD, "lead_id": "L" * MAX_ID_CHARS, "id": "E" * MAX_ID_CHARS}) + "\n")
    assert len(read_events(path)) == 1


def test_nul_and_long_ids_in_csv_and_parquet_leads(tmp_path: Path) -> None:
    csv_path = tmp_path / "leads.csv"
    csv_path.write_text("id,name\na,ok\nb,x\x00y\n" + "L" * 300 + ",z\n")
    assert [e.split(": ")[0] for e in errors_of(csv_path, leads=True)] == [f"{csv_path}:3:name", f"{csv_path}:4:id"]
    parquet = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": ["a", "b\x00"], "n": [1, 2]}), parquet)
    assert errors_of(parquet, leads=True) == [f"{parquet}:row 2:id: text holds a NUL character (no database stores it)"]


def test_a_bad_byte_is_reported_on_its_own_line(tmp_path: Path) -> None:
    rows = "".join(f"a,visit,2026-05-01T00:00:{i % 60:02d}Z,x{i}\n" for i in range(49))
    path = tmp_path / "events.csv"
    path.write_bytes(
        b"lead_id,type,timestamp,note\n" + rows.encode() + "b,visit,2026-05-02,caf\xe9\n".encode("latin-1")
    )
    found = errors_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:51") and "UTF-8" in found[0], found
    assert sum(len(b.items) for b in iter_event_batches(path)) == 49
    jsonl = tmp_path / "events.jsonl"
    lines = [json.dumps(GOOD).encode()] * 50 + ['{"lead_id": "caf\xe9"}'.encode("latin-1")]
    jsonl.write_bytes(b"\n".join(lines) + b"\n")
    assert [e.split(": ")[0] for e in errors_of(jsonl)] == [f"{jsonl}:51"]
    as_list = tmp_path / "events.json"
    as_list.write_bytes(b"[\n" + b",\n".join(lines) + b"\n]")
    with pytest.raises(DataFileError, match=rf"{as_list.name}:52: not UTF-8"):
        read_events(as_list)


def test_rejects_columns_are_not_properties(tmp_path: Path) -> None:
    """A rejects file, fixed and ingested again, brings its rows, not its `_line` / `_error` notes."""
    path = tmp_path / "fixed.csv"
    path.write_text("lead_id,type,timestamp,_line,_error\na,visit,2026-05-01,3,x.csv:3:timestamp: bad\n")
    assert read_events(path)[0].properties == {}
    jsonl = tmp_path / "fixed.jsonl"
    jsonl.write_text(json.dumps({"id": "a", "n": 1, "_line": 2, "_error": "bad"}) + "\n")
    assert read_leads(jsonl)[0].attributes == {"n": 1}


def test_times_past_year_9999_are_row_errors(tmp_path: Path) -> None:
    past = 3_093_527_980_800_000_000  # microseconds since 1970: in the year 99999
    ts = pa.array([1_780_000_000_000_000, past], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    parquet = tmp_path / "events.parquet"
    pq.write_table(pa.table({"lead_id": ["a", "b"], "type": ["t", "t"], "timestamp": ts}), parquet)
    assert [e.split(": ")[0] for e in errors_of(parquet)] == [f"{parquet}:row 2:timestamp"]
    text = tmp_path / "events.csv"
    text.write_text("lead_id,type,timestamp\na,t,99999-01-01T00:00:00Z\nb,t,9999-12-31T23:00:00-05:00\n")
    assert [e.split(": ")[0] for e in errors_of(text)] == [f"{text}:2:timestamp", f"{text}:3:timestamp"]


def test_broken_quotes_are_refused_at_the_row_that_opens_them(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        'lead_id,type,timestamp,note\na,visit,2026-05-01,"x"y\nb,visit,2026-05-01,ok\nc,visit,2026-05-01,"open\n'
        "d,visit,2026-05-01,swallowed\n"
    )
    found = errors_of(path)
    assert [e.split(": ")[0] for e in found] == [f"{path}:2", f"{path}:4"]
    assert "never closed (lines 4 to 5" in found[1]
    assert [e.lead_id for b in iter_event_batches(path) for e in b.items] == ["b"]
