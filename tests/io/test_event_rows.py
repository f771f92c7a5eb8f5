"""Parquet events converted by column (`io.event_rows`) give the rows the row path gives, byte for byte:
the same key, lead, type, time stamp and JSON text, in the same order, and every batch it cannot
convert exactly goes through the row path with its errors."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.domain import event_key
from leadscore.io import iter_event_batches
from leadscore.io.batches import Batch
from leadscore.io.event_rows import EventRows, iter_event_rows, plain_event_rows
from leadscore.store.backends import json_text
from leadscore.store.events_repo import json_ready

CHECKED = ("stage_set", "identify")


def _row_path(path: Path, batch_size: int) -> tuple[list[tuple[Any, ...]], list[str]]:
    rows: list[tuple[Any, ...]] = []
    errors: list[str] = []
    for batch in iter_event_batches(path, batch_size):
        rows += [(event_key(e), e.lead_id, e.type, e.ts, json_text(json_ready(e.properties))) for e in batch.items]
        errors += [str(e) for e in batch.errors]
    return rows, errors


def _by_column(path: Path, batch_size: int) -> tuple[list[tuple[Any, ...]], list[str], int]:
    rows: list[tuple[Any, ...]] = []
    errors: list[str] = []
    plain = 0
    for batch in iter_event_rows(path, batch_size, CHECKED):
        if isinstance(batch, EventRows):
            plain += 1
            rows += list(batch.tuples())
        else:
            assert isinstance(batch, Batch)
            rows += [(event_key(e), e.lead_id, e.type, e.ts, json_text(json_ready(e.properties))) for e in batch.items]
            errors += [str(e) for e in batch.errors]
    return rows, errors, plain


def _table(n: int) -> pa.Table:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "id": [f"e-{i}" for i in range(n)],
            "lead_id": [f"L{i % 7}" for i in range(n)],
            "type": ["page_view" if i % 3 else "form_submit" for i in range(n)],
            "timestamp": pa.array(
                [start + timedelta(seconds=17 * i, microseconds=i) for i in range(n)], pa.timestamp("us", "UTC")
            ),
            "path": [None if i % 4 == 0 else f"/p/{i % 5}" for i in range(n)],
            "title": [None if i % 2 else 'Head of "Sales" \\ caf\u00e9 \U0001f600' for i in range(n)],
            "count": pa.array([None if i % 5 == 0 else i * 1_000_003 - 40 for i in range(n)], pa.int64()),
            "amount": pa.array([None if i % 3 else [9.5, 100.0, -0.0, 1e15, 0.1, 2.5e-7][i % 6] for i in range(n)]),
            "small": pa.array([None if i % 2 else 0.1 * i for i in range(n)], pa.float32()),
            "ok": pa.array([None if i % 7 == 0 else i % 2 == 0 for i in range(n)]),
            "empty": pa.array([None] * n, pa.string()),
            "_line": pa.array(list(range(n))),  # a rejects file's note: never a property
        }
    )


def test_plain_batches_are_converted_by_column_as_the_row_path_converts_them(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    pq.write_table(_table(300), path)
    expected, no_errors = _row_path(path, 64)
    rows, errors, plain = _by_column(path, 64)
    assert no_errors == [] and errors == []
    assert plain == 5, "every batch is plain: the column path must take them all"
    assert rows == expected


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("id", [None] * 3),  # content keys: the row path hashes the content
        ("id", [" e-1", "e-2", "e-3"]),  # stripped by the row path
        ("lead_id", ["a", "", "c"]),  # refused
        ("lead_id", ["a", "b\u00a0", "c"]),  # non-ASCII at an end: Python strips this one
        ("lead_id", ["a", "b" * 256, "c"]),  # too long
        ("type", ["a", "identify", "c"]),  # the store links leads by it
        ("type", ["a", "stage_set", "c"]),  # the model checks its stage
        ("path", ["a", "b\x00", "c"]),  # NUL: refused
        ("amount", [1.0, float("nan"), 2.0]),
        ("amount", [1.0, 2.0**60, 2.0]),
        ("count", [1, 2**60, 3]),
    ],
)
def test_what_the_column_path_cannot_take_goes_through_the_row_path(
    tmp_path: Path, column: str, values: list[Any]
) -> None:
    table = _table(3)
    i = table.schema.get_field_index(column)
    table = table.set_column(i, column, pa.array(values))
    path = tmp_path / "e.parquet"
    pq.write_table(table, path)
    assert plain_event_rows(next(pq.ParquetFile(path).iter_batches()), CHECKED) is None
    expected, expected_errors = _row_path(path, 2)
    rows, errors, _ = _by_column(path, 2)
    assert (rows, errors) == (expected, expected_errors)


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_time_stamps_of_every_unit_and_zone(tmp_path: Path, unit: str) -> None:
    when = [datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=2))), datetime(1970, 1, 1, tzinfo=UTC)]
    when.append(datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC))
    for tz in [None, "UTC", "+02:00"]:
        values = [w.astimezone(UTC).replace(tzinfo=None) if tz is None else w for w in when]
        table = pa.table(
            {
                "id": ["a", "b", "c"],
                "lead_id": ["x"] * 3,
                "type": ["t"] * 3,
                "timestamp": pa.array(values, pa.timestamp(unit, tz)),
            }
        )
        path = tmp_path / f"{unit}-{tz is None}.parquet"
        pq.write_table(table, path)
        rows, _, plain = _by_column(path, 10)
        assert plain == 1 and rows == _row_path(path, 10)[0]


_text = st.text(st.characters(codec="utf-8"), max_size=6)
_number = st.one_of(st.integers(-(2**62), 2**62), st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ids=st.lists(st.one_of(st.none(), _text, st.sampled_from(["e", " e", "é"])), min_size=1, max_size=8),
    texts=st.lists(st.one_of(st.none(), _text), min_size=8, max_size=8),
    floats=st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)), min_size=8, max_size=8),
    ints=st.lists(st.one_of(st.none(), st.integers(-(2**62), 2**62)), min_size=8, max_size=8),
)
def test_any_batch_gives_the_row_paths_rows_and_errors(
    ids: list[str | None], texts: list[str | None], floats: list[float | None], ints: list[int | None]
) -> None:
    n = len(ids)
    table = pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "lead_id": pa.array([t or "L" for t in texts[:n]], pa.string()),
            "type": pa.array([(t or "t")[::-1] for t in texts[:n]], pa.string()),
            "timestamp": pa.array(
                [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(n)], pa.timestamp("us", "UTC")
            ),
            "text": pa.array(texts[:n], pa.string()),
            "x": pa.array(floats[:n], pa.float64()),
            "k": pa.array(ints[:n], pa.int64()),
        }
    )
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "e.parquet"
        pq.write_table(table, path)
        expected, expected_errors = _row_path(path, 3)
        rows, errors, _ = _by_column(path, 3)
    assert rows == expected
    assert errors == expected_errors
