"""The Parquet files' check (`file_checks.check_parquet`): its first scans, one per column, decide the
clean files alone, and every other file gets the same answer as the full scan gives it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leadscore.batch.duckdb import file_checks
from leadscore.batch.duckdb.run import connect
from leadscore.io.errors import DataFileError


def _outcome(files: list[str], kind: str) -> tuple[str, Any]:
    try:
        return "plain", file_checks.check_parquet(connect(), files, kind)
    except DataFileError as exc:
        return "refused", str(exc)


@pytest.mark.parametrize("dictionary", [True, False], ids=["dictionary", "plain"])
@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        ("leads", {}),
        ("leads", {"city": ["x", "a\x00b", "y"]}),
        ("leads", {"id": ["a", "b", "a"]}),
        ("leads", {"id": ["a", "b", " c"]}),  # to strip: not refused, not plain
        ("leads", {"id": ["a", " b", "b"]}),  # repeated once stripped: the full scan's answer
        ("leads", {"id": ["a", "", "c"]}),
        ("leads", {"id": ["a", "b" * 256, "c"]}),
        ("events", {}),
        ("events", {"type": ["v", "v", "\tv"]}),
        ("events", {"page": ["/", "/\x00", "/"]}),
        ("events", {"lead_id": ["a", None, "a"]}),
    ],
    ids=[
        "clean",
        "nul",
        "repeated",
        "strip",
        "repeated-stripped",
        "blank",
        "long",
        "events-clean",
        "events-strip",
        "events-nul",
        "events-no-lead",
    ],
)
def test_the_first_scans_answer_as_the_full_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dictionary: bool, kind: str, columns: dict[str, list[Any]]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "leads":
        base: dict[str, Any] = {"id": ["a", "b", "c"], "city": ["x", "y", "z"]}
    else:
        ts = pa.array([1_779_000_000_000_000] * 3, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        base = {"lead_id": ["a", "a", "b"], "type": ["v"] * 3, "timestamp": ts, "page": ["/", "/a", "/b"]}
    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({**base, **columns}), path, use_dictionary=dictionary)
    fast = _outcome([str(path)], kind)
    monkeypatch.setattr(file_checks, "_clean", lambda *args: False)
    assert fast == _outcome([str(path)], kind)
    if not columns:
        assert fast == ("plain", True)


def test_dictionary_columns_read_once_per_state_of_the_files(tmp_path: Path) -> None:
    """A run asks twice for the same files: the metadata is read once; a file rewritten since is read again."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "events.parquet"
    pq.write_table(pa.table({"type": ["view"] * 1000, "page": [f"/p{i}" for i in range(1000)]}), path)
    con = connect()
    queries: list[str] = []

    class Spy:
        def execute(self, sql: str) -> Any:
            queries.append(sql)
            return con.execute(sql)

    files = [str(path)]
    assert file_checks.dictionary_columns(Spy(), files) == {"type"}  # type: ignore[arg-type]
    assert file_checks.dictionary_columns(Spy(), files) == {"type"}  # type: ignore[arg-type]
    assert len(queries) == 1
    pq.write_table(pa.table({"type": [f"t{i}" for i in range(1000)], "page": ["/"] * 1000}), path)
    assert file_checks.dictionary_columns(Spy(), files) == {"page"}  # type: ignore[arg-type]
    assert len(queries) == 2
