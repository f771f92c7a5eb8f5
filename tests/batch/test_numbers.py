"""The batch engine's door for numbers and its sums: a Parquet value the model reads that is NaN,
infinite or beyond +-2**53 refuses the run with file, row and column; CSV text beyond the range
stays text, as the io reader keeps it; a sum that overflows is infinite in both engines, no crash."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from leadscore.batch import SourceError, run_batch
from leadscore.domain import Event, Lead
from leadscore.engine import score_many
from leadscore.io import DataFileError
from leadscore.model import parse_model
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table

AT = "2026-06-01T00:00:00Z"
MODEL = """
format: 1
name: t
rules:
  - {id: spender, when: {sum: amount, of: buy, gt: 100}, points: 5}
  - {id: avg, when: {avg: amount, of: buy, gte: 50}, points: 1}
"""


def _write(tmp_path: Path, amounts: list[float]) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    leads = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": ["a", "b"]}), leads)
    events = tmp_path / "events.parquet"
    n = len(amounts)
    pq.write_table(
        pa.table(
            {
                "lead_id": ["a"] * n,
                "type": ["buy"] * n,
                "timestamp": ["2026-05-01T00:00:00Z"] * n,
                "amount": pa.array(amounts, pa.float64()),
                "unused": pa.array([math.nan] * n, pa.float64()),
            }
        ),
        events,
    )
    return leads, events


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e308])
def test_parquet_numbers_outside_the_range_refuse_the_run(tmp_path: Path, bad: float) -> None:
    leads, events = _write(tmp_path, [10.0, bad])
    with pytest.raises(DataFileError) as info:
        run_batch(parse_model(MODEL), leads, events, AT)
    assert f"{events}:row 2:amount:" in str(info.value), str(info.value)


def test_files_are_checked_by_the_readers_rules_in_every_column(tmp_path: Path) -> None:
    """One reader, one set of rules: `score` refuses a NaN in a column no rule reads, so batch does too."""
    leads, events = _write(tmp_path, [60.0, 70.0])  # `unused` holds NaN everywhere
    with pytest.raises(DataFileError) as info:
        run_batch(parse_model(MODEL), leads, events, AT)
    assert f"{events}:row 1:unused:" in str(info.value), str(info.value)


def test_tables_are_checked_in_the_columns_the_model_reads() -> None:
    """In-memory tables skip the file reader: the model's numeric inputs are checked in SQL."""
    import pyarrow as pa

    events = pa.table(
        {
            "lead_id": ["a", "a"],
            "type": ["buy", "buy"],
            "timestamp": ["2026-05-01T00:00:00Z"] * 2,
            "amount": pa.array([10.0, math.inf], pa.float64()),
        }
    )
    with pytest.raises(SourceError) as info:
        run_batch(parse_model(MODEL), pa.table({"id": ["a"]}), events, AT)
    assert "row 2: amount:" in str(info.value), str(info.value)


def test_csv_numeric_text_beyond_the_range_stays_text(tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text("id\na\n")
    events = tmp_path / "events.csv"
    events.write_text(
        "lead_id,type,timestamp,amount\na,buy,2026-05-01,1e300\na,buy,2026-05-01,90\na,buy,2026-05-02,20\n"
    )
    (result,) = run_batch(parse_model(MODEL), leads, events, AT).to_dicts()
    # 1e300 is text: skipped by the sum (110 > 100) and the average (55 >= 50)
    assert result["score"] == 6.0


def test_overflowing_sums_agree_and_do_not_crash() -> None:
    """Values handed to the library directly (the files' door refuses them): two amounts of 1e308."""
    model = parse_model(MODEL)
    leads = [Lead("a"), Lead("b")]
    events = [
        Event.of("a", "buy", "2026-05-01", id="1", amount=1e308),
        Event.of("a", "buy", "2026-05-02", id="2", amount=1e308),
        Event.of("b", "buy", "2026-05-01", id="3", amount=-1e308),
        Event.of("b", "buy", "2026-05-02", id="4", amount=-1e308),
    ]
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    assert [r["score"] for r in expected] == [6.0, 0.0]
    got = run_batch(model, leads_table(leads), events_table(events), AT, check_numbers=False).to_dicts()
    assert not differences(expected, got)


@pytest.mark.spark
@pytest.mark.integration
@pytest.mark.slow
def test_spark_refuses_numbers_outside_the_range(spark: Any, tmp_path: Path) -> None:
    from leadscore.batch.spark.run import run_spark

    leads, events = _write(tmp_path, [10.0, math.nan, 1e308])
    with pytest.raises(SourceError) as info:
        run_spark(parse_model(MODEL), leads, events, AT, tmp_path / "out.jsonl", spark=spark)
    assert f"{events}: row 2: amount:" in str(info.value), str(info.value)
    leads, events = _write(tmp_path, [60.0, 70.0])  # `unused` (NaN) is read by no rule
    run_spark(parse_model(MODEL), leads, events, AT, tmp_path / "ok.jsonl", spark=spark)


@pytest.mark.parametrize("bad_file", [0, 1])
def test_a_bad_number_in_a_directory_names_its_own_file(tmp_path: Path, bad_file: int) -> None:
    """Parquet read by DuckDB (typed times): the error names the file the row is in, and its row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    leads = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": ["a"]}), leads)
    (tmp_path / "events").mkdir()
    for i in range(2):
        amounts = [10.0, math.nan] if i == bad_file else [10.0, 20.0]
        when = pa.array([1_777_593_600_000_000] * 2, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
        table = pa.table({"lead_id": ["a", "a"], "type": ["buy", "buy"], "timestamp": when, "amount": amounts})
        pq.write_table(table, tmp_path / "events" / f"part-{i}.parquet")
    with pytest.raises(SourceError) as info:
        run_batch(parse_model(MODEL), leads, tmp_path / "events", AT)
    assert str(info.value).startswith(f"{tmp_path / 'events' / f'part-{bad_file}.parquet'}: row 2: amount:"), str(
        info.value
    )


def _typed_events(tmp_path: Path, amounts: list[float], pages: list[str]) -> tuple[Path, Path]:
    """Leads and a directory of events with typed times (read by DuckDB, checked by the scoring pass)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    leads = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": ["a"]}), leads)
    (tmp_path / "events").mkdir()
    n = len(amounts)
    when = pa.array([1_777_593_600_000_000] * n, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    table = pa.table(
        {
            "id": [f"e{i}" for i in range(n)],
            "lead_id": ["a"] * n,
            "type": ["buy"] * n,
            "timestamp": when,
            "amount": amounts,
            "page": pages,
        }
    )
    pq.write_table(table, tmp_path / "events" / "part-0.parquet")
    return leads, tmp_path / "events"


def test_the_events_numbers_are_checked_by_the_scoring_pass(tmp_path: Path) -> None:
    leads, events = _typed_events(tmp_path, [60.0, 70.0], ["/a", "/b"])
    run = run_batch(parse_model(MODEL), leads, events, AT)
    assert run.plan is not None and run.plan.row_check and "BETWEEN" in run.plan.sql  # no scan of its own
    assert [r["score"] for r in run.to_dicts()] == [6.0]


@pytest.mark.parametrize("dedupe", ["never", "auto"])
def test_a_nan_left_out_of_the_files_statistics_is_refused_by_the_scoring_pass(tmp_path: Path, dedupe: str) -> None:
    """pyarrow writes a column's minimum and maximum without its NaN (1.0 and 70.0 here): DuckDB decided
    the range test from them, FALSE on every row, and the NaN was scored as a number above any."""
    leads, events = _typed_events(tmp_path, [60.0, math.nan, 70.0, 1.0], ["/a", "/b", "/c", "/d"])
    with pytest.raises(SourceError, match=r"part-0\.parquet: row 2: amount: nan is not accepted"):
        run_batch(parse_model(MODEL), leads, events, AT, out=tmp_path / "out.parquet", dedupe=dedupe)
    assert not (tmp_path / "out.parquet").exists()


def test_a_bad_number_is_named_before_a_bad_text_in_a_later_row(tmp_path: Path) -> None:
    """Both checks run after the scoring pass saw a row needing them: the number's first, as when both
    ran before the query."""
    leads, events = _typed_events(tmp_path, [60.0, math.nan, 1.0], ["/a", "/b", "/c\x00"])
    with pytest.raises(SourceError, match=r"part-0\.parquet: row 2: amount:"):
        run_batch(parse_model(MODEL), leads, events, AT, out=tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


@pytest.mark.parametrize("dedupe", ["never", "auto"])
@pytest.mark.parametrize("bad", [2**53 + 1, -(2**53) - 1, 2**62])
def test_whole_numbers_beyond_the_range_refuse_the_run_exactly(tmp_path: Path, bad: int, dedupe: str) -> None:
    """An integer column is compared as integers: 2**53 + 1 is refused as the reader refuses it (as a double
    it was 2**53 and passed), 2**53 itself is accepted."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    leads = tmp_path / "leads.parquet"
    pq.write_table(pa.table({"id": ["a"]}), leads)
    events = tmp_path / "events.parquet"
    times = pa.array(["2026-05-01T00:00:00Z"] * 2).cast(pa.timestamp("us", tz="UTC"))
    for amounts, ok in (([10, 2**53], True), ([10, bad], False)):
        table = pa.table({"lead_id": ["a", "a"], "type": ["buy", "buy"], "timestamp": times, "id": ["1", "2"]})
        pq.write_table(table.append_column("amount", pa.array(amounts, pa.int64())), events)
        if ok:
            assert run_batch(parse_model(MODEL), leads, events, AT, dedupe=dedupe).to_dicts()[0]["score"] == 6.0
            continue
        with pytest.raises((DataFileError, SourceError)) as info:
            run_batch(parse_model(MODEL), leads, events, AT, dedupe=dedupe)
        assert "row 2" in str(info.value) and "amount" in str(info.value), str(info.value)
