"""The spill folders of a rescore in parts: those of processes that are gone are removed by the next
spill (`sweep_stale`), nothing else is; the spilled rows typed as the export types them (`RawEvents`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from leadscore.bulk.export import Unsupported
from leadscore.bulk.export_spill import PREFIX, RawEvents, sweep_stale


def _gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: its id names no process now
    return proc.pid


def test_sweep_removes_only_the_folders_of_processes_that_are_gone(tmp_path: Path) -> None:
    gone = tmp_path / f"{PREFIX}{_gone_pid()}-abc"
    mine = tmp_path / f"{PREFIX}{os.getpid()}-def"
    older = tmp_path / f"{PREFIX}k2j4h5"  # no process id in the name: left alone
    other = tmp_path / "unrelated-123-x"
    for folder in (gone, mine, older, other):
        folder.mkdir()
        (folder / "p000000-r000.arrow").write_bytes(b"x" * 10)
    a_file = tmp_path / f"{PREFIX}{_gone_pid()}-file"
    a_file.write_text("not a folder")

    assert sweep_stale(tmp_path) == [gone]
    assert not gone.exists()
    assert mine.exists() and older.exists() and other.exists() and a_file.exists()
    assert sweep_stale(tmp_path) == []


def _raw_part(values: list[str]) -> pa.Table:
    n = len(values)
    return pa.table(
        {
            "lead_id": [f"L{i:04d}" for i in range(n)],
            "type": ["visit"] * n,
            "ts": list(range(n)),
            "seq": list(range(n)),
            "_p": values,
        }
    )


def test_a_parts_events_typed_in_one_kept_connection_as_in_their_own() -> None:
    """Parts typed one after the other in one connection (`lifecycle_ahead.serve`) as each in its own:
    each key's value in its slot by its JSON type, and a refused part leaves the connection usable."""
    raw = _raw_part(
        [
            '{"a": "x\\u00e9", "b": 2}',
            '{"b": 2.5, "a": true}',
            '{"a": null}',
            "{}",
            '{"c": 1, "b": -9007199254740992, "a": "\\"q\\""}',
            '{"a": 1e3, "b": false}',
        ]
    )
    events = RawEvents(raw.schema, ("lead_id", "type", "ts", "seq"), ("a", "b"), True)
    con = duckdb.connect()
    try:
        first = events.typed(raw, con)
        with pytest.raises(Unsupported):
            events.typed(_raw_part(['{"a": 9007199254740993}']), con)
        with pytest.raises(Unsupported):
            events.typed(_raw_part(['{"b": {"n": 1}}']), con)
        with pytest.raises(Unsupported):  # text DuckDB cannot parse as JSON
            events.typed(_raw_part(['{"a": ']), con)
        again = events.typed(raw, con)
    finally:
        con.close()
    assert first.equals(events.typed(raw)) and again.equals(first)
    got = {name: first.column(name).to_pylist() for name in first.column_names}
    assert got["a::str"] == ["xé", None, None, None, '"q"', None]
    assert got["a::bool"] == [None, True, None, None, None, None]
    assert got["a::num"] == [None, None, None, None, None, 1000.0]
    assert got["b::num"] == [2.0, 2.5, None, None, -9007199254740992.0, None]
    assert got["b::bool"] == [None, None, None, None, None, False]
    assert got["lead_id"] == raw.column("lead_id").to_pylist()
