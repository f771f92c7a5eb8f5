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


def test_a_run_reads_the_dictionary_columns_once_for_both_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row check's split and the eager look-ups both ask for the events' dictionary-encoded columns:
    the run reads the files' metadata once and hands the answer to both; another run reads it again."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore.batch import run_batch
    from leadscore.model import parse_model

    ts = pa.array([1_779_000_000_000_000] * 1000, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    events = {"lead_id": [f"l{i % 7}" for i in range(1000)], "type": ["view"] * 1000, "timestamp": ts}
    pq.write_table(pa.table({**events, "page": [f"/p{i}" for i in range(1000)]}), tmp_path / "events.parquet")
    pq.write_table(pa.table({"id": [f"l{i}" for i in range(7)]}), tmp_path / "leads.parquet")
    model = parse_model("format: 1\nname: t\nrules:\n  - {id: v, on: view, where: {page: {contains: p1}}, points: 1}\n")
    read: list[tuple[str, ...]] = []
    real = file_checks.dictionary_columns

    def spy(con: Any, files: list[str]) -> frozenset[str]:
        read.append(tuple(files))
        return real(con, files)

    monkeypatch.setattr(file_checks, "dictionary_columns", spy)
    asked: list[int] = []
    known = file_checks.DictionaryColumns.__call__

    def ask(self: file_checks.DictionaryColumns, con: Any, files: list[str]) -> frozenset[str]:
        asked.append(1)
        return known(self, con, files)

    monkeypatch.setattr(file_checks.DictionaryColumns, "__call__", ask)
    path = str(tmp_path / "events.parquet")
    for runs in (1, 2):
        run = run_batch(model, str(tmp_path / "leads.parquet"), path, "2026-06-01T00:00:00Z")
        assert len(asked) == 2 * runs and read == [(path,)] * runs
    assert sum(r["score"] for r in run.to_dicts()) == 111  # /p1, /p10-/p19, /p100-/p199
    assert file_checks.dictionary_columns(connect(), [path]) == {"lead_id", "type", "timestamp"}  # not `page`


@pytest.mark.parametrize("bad", [None, "\tv", "v\x00", "", "v" * 256], ids=["clean", "edge", "nul", "blank", "long"])
def test_the_row_checks_apart_from_the_pass_scan_each_column_once(tmp_path: Path, bad: str | None) -> None:
    """The row conditions left to scans of their own (`row_check_sql`'s fourth part) are one scan per
    column, all of a column's conditions in one: the dictionary-encoded `type` column's five in one
    scan, and a bad type still found by it whichever condition it fails."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 1000  # enough rows for the files' metadata to show `type` and `page` dictionary-encoded
    ts = pa.array([1_779_000_000_000_000] * rows, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    types = ["v"] * rows
    if bad is not None:
        types[500] = bad
    table = pa.table({"lead_id": ["a"] * rows, "type": types, "timestamp": ts, "page": ["/"] * rows})
    path = str(tmp_path / "events.parquet")
    pq.write_table(table, path)
    con = connect()
    reads = frozenset({"lead_id", "type", "timestamp"})
    for ids_read, scans in ((True, 3), (False, 2)):
        checks = file_checks.row_check_sql(con, [path], ids_read=ids_read, reads=reads)
        assert checks is not None and checks[3] is not None and checks[0] == "FALSE"  # none left to the pass
        # `type`, `timestamp`, `page`: one scan each; with trusted ids `page`, which nothing reads, is not checked
        assert checks[3].count("LIMIT 1") == scans and ('"page"' in checks[3]) == ids_read
        assert con.execute(checks[3]).fetchall()[0][0] == (bad is not None)
