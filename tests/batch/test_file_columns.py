"""Directories of Parquet files whose columns differ: the batch engine reads every file's columns as the
reader (`leadscore.io.read_events` / `read_leads`) does, so it checks and scores what the pure scorer sees."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.batch import run_batch
from leadscore.batch.duckdb.file_schemas import differing_types
from leadscore.engine import score_many
from leadscore.io import DataFileError, read_events, read_leads
from leadscore.model import parse_model
from tests.batch.compare import differences
from tests.batch.test_properties import with_event_leads
from tests.support.profiles import examples

AT = "2026-06-01T00:00:00Z"
T0 = 1_779_000_000_000_000  # 2026-05-17, before AT
MODEL = parse_model(
    """
format: 1
name: file-columns
rules:
  - {id: plan, on: v, where: {plan: pro}, points: 1}
  - {id: big-n, on: [v, w], where: {n: {gte: 2}}, points: 2}
  - {id: ok, on: w, where: {ok: true}, points: 4}
  - {id: no-n, on: v, where: {n: {exists: false}}, points: 8}
  - {id: gold, when: {attribute: tier, eq: gold}, points: 16}
  - {id: large, when: {attribute: size, gt: 10}, points: 32}
  - {id: sum-n, when: {sum: n, of: v, gt: 3}, points: 64}
"""
)


def _times(n: int) -> pa.Array:
    return pa.array([T0 + i * 1_000_000 for i in range(n)], pa.int64()).cast(pa.timestamp("us", tz="UTC"))


def _pure(leads: Path, events: Path) -> list[dict[str, Any]]:
    evs = read_events(events)
    return [r.to_dict() for r in score_many(MODEL, with_event_leads(read_leads(leads), evs), evs, AT)]


def _batch(leads: Path, events: Path) -> list[dict[str, Any]]:
    return run_batch(MODEL, leads, events, AT).to_dicts()


def _scores(results: list[dict[str, Any]]) -> dict[str, float]:
    return {r["lead_id"]: r["score"] for r in results}


def _two_event_files(tmp_path: Path, second: dict[str, Any]) -> Path:
    events = tmp_path / "events"
    events.mkdir()
    base = {"lead_id": ["a", "a"], "type": ["v", "v"], "timestamp": _times(2)}
    pq.write_table(pa.table({**base, "id": ["1", "2"]}), events / "p0.parquet")
    pq.write_table(pa.table({**base, "id": ["3", "4"], **second}), events / "p1.parquet")
    return events


def test_a_nul_in_a_column_only_a_later_file_has_is_refused_as_the_reader_refuses_it(tmp_path: Path) -> None:
    events = _two_event_files(tmp_path, {"note": ["ok", "a\x00b"]})
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "leads.parquet")
    with pytest.raises(DataFileError) as reader:
        read_events(events)
    with pytest.raises(DataFileError) as batch:
        run_batch(MODEL, tmp_path / "leads.parquet", events, AT)
    assert str(batch.value) == str(reader.value)
    assert f"{events / 'p1.parquet'}:row 2:note:" in str(batch.value)


def test_a_property_only_a_later_file_has_is_scored(tmp_path: Path) -> None:
    events = _two_event_files(tmp_path, {"plan": ["pro", "free"]})
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "leads.parquet")
    got = _batch(tmp_path / "leads.parquet", events)
    assert _scores(got) == {"a": 1.0 + 8 * 4}  # plan=pro once; no `n` in any event
    assert not differences(_pure(tmp_path / "leads.parquet", events), got)


def test_an_attribute_only_a_later_leads_file_has_is_scored(tmp_path: Path) -> None:
    leads = tmp_path / "leads"
    leads.mkdir()
    pq.write_table(pa.table({"id": ["a"], "size": pa.array([5], pa.int32())}), leads / "l0.parquet")
    pq.write_table(pa.table({"id": ["b"], "tier": ["gold"], "size": pa.array([50], pa.int64())}), leads / "l1.parquet")
    pq.write_table(pa.table({"lead_id": ["a"], "type": ["x"], "timestamp": _times(1)}), tmp_path / "events.parquet")
    got = _batch(leads, tmp_path / "events.parquet")
    assert _scores(got) == {"a": 0.0, "b": 16.0 + 32.0}
    assert not differences(_pure(leads, tmp_path / "events.parquet"), got)


def test_a_column_stored_as_a_number_and_as_text_keeps_each_files_values(tmp_path: Path) -> None:
    """One common type would make the 5 of the first file the text '5' (or fail on the second's 'x')."""
    events = tmp_path / "events"
    events.mkdir()
    base = {"lead_id": ["a", "a"], "type": ["v", "v"], "timestamp": _times(2)}
    pq.write_table(pa.table({**base, "n": pa.array([5, 1], pa.int64())}), events / "p0.parquet")
    pq.write_table(pa.table({**base, "n": ["5", "x"]}), events / "p1.parquet")
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "leads.parquet")
    got = _batch(tmp_path / "leads.parquet", events)
    assert _scores(got) == {"a": 2.0 + 64.0}  # the number 5 only: gte 2 once, sum 6 > 3; texts are no numbers
    assert not differences(_pure(tmp_path / "leads.parquet", events), got)


def test_files_in_sub_directories_are_not_read_as_the_reader_does_not_read_them(tmp_path: Path) -> None:
    events = _two_event_files(tmp_path, {})
    (events / "old").mkdir()
    base = {"lead_id": ["b"], "type": ["v"], "timestamp": _times(1), "plan": ["pro"]}
    pq.write_table(pa.table(base), events / "old" / "p2.parquet")
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "leads.parquet")
    got = _batch(tmp_path / "leads.parquet", events)
    assert set(_scores(got)) == {"a"}
    assert not differences(_pure(tmp_path / "leads.parquet", events), got)


def test_differing_types_names_the_column_and_both_files(tmp_path: Path) -> None:
    import duckdb

    a, b, c = tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"
    pq.write_table(pa.table({"n": pa.array([1], pa.int32()), "f": pa.array([1.5], pa.float32())}), a)
    pq.write_table(pa.table({"n": pa.array([2], pa.uint64()), "f": pa.array([2.5], pa.float64())}), b)
    pq.write_table(pa.table({"n": ["x"]}), c)
    with duckdb.connect() as con:
        assert differing_types(con, [str(a), str(b)]) is None  # integers widen, floats widen: values kept
        assert differing_types(con, [str(a), str(b), str(c)]) == ("n", str(a), "INTEGER", str(c), "VARCHAR")


# Generated directories: each file has its own subset of the properties (and attributes), `n` stored as
# an integer, a float or text depending on the file.
_N = {
    "int": (pa.int64(), st.integers(-3, 6)),
    "float": (pa.float64(), st.floats(-3, 6)),
    "str": (pa.string(), st.sampled_from(["5", "x"])),
}


@st.composite
def _event_file(draw: st.DrawFn, first_id: int) -> pa.Table:
    rows = draw(st.integers(1, 4))
    cols: dict[str, Any] = {
        "lead_id": pa.array(draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=rows, max_size=rows))),
        "type": pa.array(draw(st.lists(st.sampled_from(["v", "w"]), min_size=rows, max_size=rows))),
        "timestamp": _times(rows),
    }
    if draw(st.booleans()):
        cols["id"] = pa.array([str(first_id + i) for i in range(rows)])
    if draw(st.booleans()):
        cols["plan"] = pa.array(draw(st.lists(st.sampled_from(["pro", "free", None]), min_size=rows, max_size=rows)))
    if draw(st.booleans()):
        typ, values = _N[draw(st.sampled_from(sorted(_N)))]
        cols["n"] = pa.array(draw(st.lists(values | st.none(), min_size=rows, max_size=rows)), typ)
    if draw(st.booleans()):
        cols["ok"] = pa.array(draw(st.lists(st.booleans() | st.none(), min_size=rows, max_size=rows)), pa.bool_())
    return pa.table(cols)


@st.composite
def _lead_file(draw: st.DrawFn, ids: list[str]) -> pa.Table:
    cols: dict[str, Any] = {"id": pa.array(ids)}
    if draw(st.booleans()):
        cols["tier"] = pa.array(
            draw(st.lists(st.sampled_from(["gold", "tin", None]), min_size=len(ids), max_size=len(ids)))
        )
    if draw(st.booleans()):
        typ = draw(st.sampled_from([pa.int32(), pa.int64()]))
        cols["size"] = pa.array(
            draw(st.lists(st.integers(0, 20) | st.none(), min_size=len(ids), max_size=len(ids))), typ
        )
    return pa.table(cols)


@st.composite
def _directories(draw: st.DrawFn) -> tuple[list[pa.Table], list[pa.Table]]:
    events = [draw(_event_file(i * 10)) for i in range(draw(st.integers(2, 4)))]
    leads = [draw(_lead_file(["a"])), draw(_lead_file(["b", "d"]))]
    return leads, events


@pytest.mark.slow
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_directories())
def test_files_with_random_columns_equal_the_pure_scorer(data: tuple[list[pa.Table], list[pa.Table]]) -> None:
    leads, events = data
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, tables in (("leads", leads), ("events", events)):
            (root / name).mkdir()
            for i, table in enumerate(tables):
                pq.write_table(table, root / name / f"part-{i:05d}.parquet")
        expected, got = _pure(root / "leads", root / "events"), _batch(root / "leads", root / "events")
    diff = differences(expected, got)
    assert not diff, "\n".join(diff[:10])


def test_a_nan_in_a_column_only_a_later_file_has_is_refused_naming_that_file(tmp_path: Path) -> None:
    events = _two_event_files(tmp_path, {"n": [1.0, float("nan")]})
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "leads.parquet")
    with pytest.raises(DataFileError):
        read_events(events)
    with pytest.raises(ValueError) as batch:
        run_batch(MODEL, tmp_path / "leads.parquet", events, AT)
    assert f"{events / 'p1.parquet'}" in str(batch.value) and "row 2" in str(batch.value)
    assert "n" in str(batch.value)


@pytest.mark.parametrize("rows", [2, 0], ids=["rows", "empty"])
def test_leads_without_an_id_column_are_refused_with_the_columns_found(tmp_path: Path, rows: int) -> None:
    """A leads file with neither `id` nor `lead_id` (found by the hostile-files property test: its
    repeated-id count named the missing column and DuckDB's binder error escaped) is refused as the
    reader refuses it, with the file's own columns only."""
    from leadscore.batch.duckdb.sources import SourceError

    events = _two_event_files(tmp_path, {})
    pq.write_table(pa.table({"employees": pa.array(list(range(rows)), pa.int64())}), tmp_path / "leads.parquet")
    with pytest.raises(SourceError) as batch:
        run_batch(MODEL, tmp_path / "leads.parquet", events, AT)
    expected = "missing required column 'id' (or 'lead_id'); columns found: employees"
    assert str(batch.value) == f"{tmp_path / 'leads.parquet'}: {expected}"


def test_events_without_a_required_column_are_refused_in_the_readers_words(tmp_path: Path) -> None:
    from leadscore.batch.duckdb.sources import SourceError

    events = tmp_path / "events.parquet"
    pq.write_table(pa.table({"type": ["v"], "note": ["x"]}), events)
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "leads.parquet")
    with pytest.raises(SourceError) as batch:
        run_batch(MODEL, tmp_path / "leads.parquet", events, AT)
    assert str(batch.value) == f"{events}: missing required columns 'lead_id', 'timestamp'; columns found: type, note"
