"""The ordered pass reading the event ids from the Parquet files gives what it read from the view."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.batch.duckdb import id_files, id_order
from leadscore.batch.duckdb.file_checks import parquet_sources
from leadscore.batch.duckdb.run import connect
from leadscore.batch.duckdb.sources import prepare
from tests.support.duckdb_connections import fresh_connection
from tests.support.profiles import examples

_ID = st.sampled_from(["a", "b", "bb", "c", "ab", "e10", "e9", "ü", "", None])


def _write(folder: Path, parts: list[list[str | None]], dictionary: bool, group_rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "events").mkdir()
    pq.write_table(pa.table({"id": ["l0"]}), folder / "leads.parquet")
    for k, ids in enumerate(parts):
        n = len(ids)
        column = pa.array(ids, pa.string())
        table = pa.table(
            {
                "lead_id": ["l0"] * n,
                "type": ["view"] * n,
                "timestamp": pa.array([0] * n, pa.timestamp("us", tz="UTC")),
                "id": column.dictionary_encode() if dictionary else column,
            }
        )
        pq.write_table(table, folder / "events" / f"part-{k}.parquet", row_group_size=group_rows)


def _view_and_files(folder: Path, tail_limit: int) -> tuple[object, object]:
    con = fresh_connection()
    schema = prepare(con, str(folder / "leads.parquet"), str(folder / "events"), defer_check=True)
    assert schema.id_check is not None  # text ids read as stored: the case the files are read in
    files = parquet_sources(folder / "events")
    assert id_files.readable(files)
    return id_order._pass(con, tail_limit, False), id_order._pass(con, tail_limit, False, files)


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    return a.with_id == b.with_id and sorted(a.tail.to_pylist()) == sorted(b.tail.to_pylist())  # type: ignore[attr-defined]


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.lists(_ID, min_size=1, max_size=10), min_size=1, max_size=3),
    dictionary=st.booleans(),
    group_rows=st.integers(1, 4),
    batch=st.integers(1, 4),
    tail_limit=st.integers(0, 12),
)
def test_the_files_ids_are_the_views_ids(
    parts: list[list[str | None]], dictionary: bool, group_rows: int, batch: int, tail_limit: int
) -> None:
    """Any ids (missing, empty, out of order, repeated), in files of row groups of any size, read in
    batches of any size: the same count of ids and the same tail (or the same give-up) either way."""
    before = id_order._BATCH
    id_order._BATCH = batch
    try:
        with tempfile.TemporaryDirectory() as tmp:
            _write(Path(tmp), parts, dictionary, group_rows)
            from_view, from_files = _view_and_files(Path(tmp), tail_limit)
    finally:
        id_order._BATCH = before
    assert _same(from_view, from_files), (from_view, from_files)


def test_large_row_groups_are_read_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(id_files, "_GROUP_ROWS", 3)
    ids = [f"e{k:02d}" for k in range(20)] + ["e05", None, "", "e07"]
    _write(tmp_path, [ids], False, 100)
    sizes = [len(a) for a in id_files.read_ids(parquet_sources(tmp_path / "events"), 4)]
    assert max(sizes) <= 4 and sum(sizes) == len(ids) - 1  # the NULL left out; the empty id to the caller
    from_view, from_files = _view_and_files(tmp_path, 10)
    assert _same(from_view, from_files) and sorted(from_files.tail.to_pylist()) == ["e05", "e07"]  # type: ignore[union-attr]


def test_files_without_their_ids_where_the_view_finds_them_are_read_through_the_view(tmp_path: Path) -> None:
    """A file without an `id` column (its rows have none), an `ID` column (DuckDB matches names without
    case) or ids stored as numbers: the pass reads the view instead."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"id": ["a"], "lead_id": ["l0"]}), good)
    for name, table in {
        "none": pa.table({"lead_id": ["l0"]}),
        "upper": pa.table({"ID": ["a"], "lead_id": ["l0"]}),
        "both": pa.table({"id": ["a"], "Id": ["b"]}),
        "number": pa.table({"id": [1], "lead_id": ["l0"]}),
    }.items():
        other = tmp_path / f"{name}.parquet"
        pq.write_table(table, other)
        assert not id_files.readable([str(good), str(other)]), name
    assert id_files.readable([str(good)])
    assert not id_files.readable([str(tmp_path / "missing.parquet")])


def test_a_parquet_run_reads_the_ids_from_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run hands the files to the pass when the view reads their ids as stored, and the pass finds
    the repeat there (the run's results are compared with the pure scorer in test_duplicates.py)."""
    from leadscore.batch import run_batch
    from leadscore.model import parse_model

    read: list[list[str]] = []
    real = id_files.read_id_rows

    def spy(files: list[str], batch: int):  # type: ignore[no-untyped-def]
        read.append(files)
        return real(files, batch)

    monkeypatch.setattr(id_files, "read_id_rows", spy)
    _write(tmp_path, [["e1", "e2", "e3"], ["e2"]], False, 2)
    model = parse_model("format: 1\nname: t\nrules:\n  - {id: v, on: view, points: 1}\n")
    run = run_batch(model, str(tmp_path / "leads.parquet"), str(tmp_path / "events"), "1970-01-02T00:00:00Z")
    assert len(read) == 1 and len(read[0]) == 2
    assert run.stats.deduplicated and [r["score"] for r in run.to_dicts()] == [3.0]


@settings(max_examples=examples(100), deadline=None)
@given(ids=st.lists(st.sampled_from(["a", "b", "bb", "ba", "c", "ab", "abc", "é", "a\x00", " a", "a\n"]), max_size=12))
def test_the_stretch_and_the_flag_equal_their_definitions(ids: list[str]) -> None:
    """`_stretch` (whole-array tests) against the order's definition; `flagged` against its rules."""
    import pyarrow as pa

    from leadscore.io.limits import MAX_ID_CHARS

    column = pa.array(ids, pa.string())
    offsets, data = id_order._buffers(column)
    keys = [(len(i.encode()), i.encode()) for i in ids]
    k = 1 if ids else 0
    while k < len(ids) and keys[k - 1] < keys[k]:
        k += 1
    assert id_order._stretch(column, offsets, None) == k
    raw = [i.encode() for i in ids if i]
    expected = any(
        len(r) > MAX_ID_CHARS or 0 in r or not (0x21 <= r[0] <= 0x7E) or not (0x21 <= r[-1] <= 0x7E) for r in raw
    )
    assert id_order.flagged(offsets, data) == expected


@pytest.mark.parametrize(
    ("ids", "kept"),
    [
        (["L1-01", "L1-02", "L2-01"], 3),  # one width, ascending: the whole batch
        (["L1-01", "L1-02", "L1-02", "L1-03"], 2),  # a repeat ends the stretch
        (["L1-01", "L2-01", "L1-05"], 2),  # a fall ends it
        (["ab", "ab"], 1),
        (["b", "a"], 1),
    ],
)
def test_ids_of_one_width_end_the_stretch_where_the_text_stops_rising(ids: list[str], kept: int) -> None:
    """`_stretch`'s path for ids of one width (no length tests) ends where the definition does."""
    import pyarrow as pa

    column = pa.array(ids, pa.string())
    assert id_order._stretch(column, id_order._buffers(column)[0], None) == kept
    after = (len(ids[0]), ids[0]) > (5, "L0-99")  # the batch goes on from a stretch ending in `L0-99`
    assert id_order._stretch(column, id_order._buffers(column)[0], b"L0-99") == (kept if after else 0)


def test_ids_that_are_not_utf8_are_left_to_duckdb(tmp_path: Path) -> None:
    """Bytes that are no UTF-8 text in a string column: the Parquet reader gives them, DuckDB refuses
    them; the pass over the files gives way to the view's, which fails as it did before (DuckDB's
    error, not the pass's own check)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _write(tmp_path, [["e1", "e2"]], False, 10)
    bad = pa.Array.from_buffers(
        pa.string(),
        2,
        [None, pa.py_buffer(b"\x00\x00\x00\x00\x02\x00\x00\x00\x04\x00\x00\x00"), pa.py_buffer(b"e3\xff\xfe")],
    )
    table = pq.read_table(tmp_path / "events" / "part-0.parquet").set_column(3, "id", bad)
    pq.write_table(table, tmp_path / "events" / "part-1.parquet")
    con = connect()
    prepare(con, str(tmp_path / "leads.parquet"), str(tmp_path / "events"), defer_check=True)
    files = parquet_sources(tmp_path / "events")
    assert id_files.readable(files)
    with pytest.raises(Exception) as from_files:
        id_order.ordered_ids(con, 10, None, files)
    with pytest.raises(Exception) as from_view:
        id_order.ordered_ids(con, 10, None, None)
    # DuckDB's own message either way (its error type may reach here wrapped by the Arrow stream)
    assert str(from_files.value) == str(from_view.value) and "not valid UTF8" in str(from_files.value)
