from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadscore.io import DataFileError, iter_event_batches, read_events, read_leads


def test_parquet_events_keep_types_and_read_naive_timestamps_as_utc(tmp_path: Path) -> None:
    table = pa.table(
        {
            "lead_id": pa.array([17, 18], pa.int64()),
            "type": ["visit", "purchase"],
            "timestamp": pa.array([datetime(2026, 1, 1, 10), datetime(2026, 1, 2, 0, 0, 0, 5)], pa.timestamp("us")),
            "amount": pa.array([None, 9.5]),
            "tags": pa.array([["a"], None], pa.list_(pa.string())),
            "seen": pa.array([date(2026, 1, 1), None], pa.date32()),
        }
    )
    pq.write_table(table, tmp_path / "events.parquet")
    first, second = read_events(tmp_path / "events.parquet")
    assert first.lead_id == "17"
    assert first.timestamp == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert first.properties == {"tags": ["a"], "seen": date(2026, 1, 1)}
    assert second.timestamp == datetime(2026, 1, 2, 0, 0, 0, 5, tzinfo=UTC)
    assert second.properties == {"amount": 9.5}


def test_parquet_aware_and_nanosecond_timestamps(tmp_path: Path) -> None:
    oslo = pa.array([datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=2)))], pa.timestamp("ms", tz="+02:00"))
    nanos = pa.array([1_767_261_600_000_000_123], pa.timestamp("ns"))
    for name, arr in [("a.parquet", oslo), ("b.parquet", nanos)]:
        pq.write_table(pa.table({"lead_id": ["c"], "type": ["t"], "timestamp": arr}), tmp_path / name)
    assert read_events(tmp_path / "a.parquet")[0].timestamp == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert read_events(tmp_path / "b.parquet")[0].timestamp == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_parquet_text_timestamps_and_row_numbers_in_errors(tmp_path: Path) -> None:
    table = pa.table(
        {"lead_id": ["a", None, "c"], "type": ["t", "t", "t"], "timestamp": ["2026-01-01", "2026-01-01", "x"]}
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert str(info.value).splitlines() == [
        f"{path}:row 2:lead_id: missing lead id",
        f"{path}:row 3:timestamp: not an ISO 8601 timestamp: 'x'",
    ]


def test_directory_is_read_in_file_name_order_with_rows_per_file(tmp_path: Path) -> None:
    data = tmp_path / "leads"
    data.mkdir()
    pq.write_table(pa.table({"id": ["b1", "b2"], "n": [1, 2]}), data / "part-1.parquet")
    pq.write_table(pa.table({"id": ["a1"], "n": [0]}), data / "part-0.parquet")
    pq.write_table(pa.table({"id": ["c1", "a1"], "n": [3, 4]}), data / "part-2.parquet")
    with pytest.raises(DataFileError) as info:
        read_leads(data)
    assert str(info.value) == (
        f"{data / 'part-2.parquet'}:row 2:id: duplicate lead id 'a1' (first in {data / 'part-0.parquet'} on row 1)"
    )
    (data / "part-2.parquet").unlink()
    assert [lead.id for lead in read_leads(data)] == ["a1", "b1", "b2"]


def test_batches_over_row_groups(tmp_path: Path) -> None:
    n = 2_500
    table = pa.table({"lead_id": [f"c{i}" for i in range(n)], "type": ["t"] * n, "timestamp": ["2026-01-01"] * n})
    pq.write_table(table, tmp_path / "e.parquet", row_group_size=1_000)
    batches = list(iter_event_batches(tmp_path / "e.parquet", batch_size=700))
    assert max(len(b.items) for b in batches) <= 700
    assert [line for b in batches for line in b.lines] == list(range(1, n + 1))


def test_not_a_parquet_file(tmp_path: Path) -> None:
    (tmp_path / "e.parquet").write_text("lead_id,type\n")
    with pytest.raises(DataFileError, match=r"e\.parquet: cannot read Parquet file"):
        read_events(tmp_path / "e.parquet")


def test_parquet_missing_column_names_the_columns_found(tmp_path: Path) -> None:
    pq.write_table(pa.table({"lead_id": ["a"], "kind": ["t"], "timestamp": ["2026-01-01"]}), tmp_path / "e.parquet")
    with pytest.raises(DataFileError) as info:
        read_events(tmp_path / "e.parquet")
    assert str(info.value) == (
        f"{tmp_path / 'e.parquet'}: missing required column 'type'; columns found: lead_id, kind, timestamp"
    )
