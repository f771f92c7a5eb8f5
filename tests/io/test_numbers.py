"""Numbers at the door: NaN, Infinity and values beyond +-2**53 are refused with file:line:field, in
every format (JSON Lines, a .json list, Parquet); CSV keeps numeric-looking text beyond the range as text."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from leadscore.domain.numbers import MAX_MAGNITUDE, exact_sum
from leadscore.io import DataFileError, coerce_cell, read_events, read_leads

GOOD = '{"lead_id": "ok", "type": "buy", "timestamp": "2026-05-01", "amount": 12.5}'


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ("-Infinity", "-Infinity"),
        ("1e309", "Infinity"),
        ("1e308", "out of range"),
        ("9007199254740993", "out of range"),
    ],
)
def test_jsonl_refuses_numbers_outside_the_range(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(GOOD + "\n" + f'{{"lead_id": "a", "type": "buy", "timestamp": "2026-05-01", "amount": {text}}}\n')
    with pytest.raises(DataFileError) as info:
        read_events(path)
    (error,) = info.value.errors
    assert (error.file, error.line, error.column) == (str(path), 2, "amount")
    assert why in error.message and f"{path}:2:amount:" in str(info.value)


def test_the_largest_accepted_numbers_pass(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    row = '{"lead_id": "a", "type": "buy", "timestamp": "2026-05-01", '
    row += '"big": 9007199254740992, "low": -9.007199254740992e15}'
    path.write_text(row + "\n")
    (event,) = read_events(path)
    assert event.properties == {"big": MAX_MAGNITUDE, "low": -float(MAX_MAGNITUDE)}


def test_nested_values_and_lead_attributes_are_checked_too(tmp_path: Path) -> None:
    events = tmp_path / "events.json"
    events.write_text(
        '[\n  {"lead_id": "a", "type": "buy", "timestamp": "2026-05-01",\n'
        '   "items": [{"price": 1}, {"price": NaN}]}\n]\n'
    )
    with pytest.raises(DataFileError) as info:
        read_events(events)
    assert [(e.line, e.column) for e in info.value.errors] == [(2, "items[1].price")]
    leads = tmp_path / "leads.jsonl"
    leads.write_text('{"id": "a", "employees": 10}\n{"id": "b", "employees": -Infinity, "revenue": NaN}\n')
    with pytest.raises(DataFileError) as info:
        read_leads(leads)
    assert [(e.line, e.column) for e in info.value.errors] == [(2, "employees"), (2, "revenue")]


def test_parquet_refuses_nan_and_huge_integers(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "events.parquet"
    table = pa.table(
        {
            "lead_id": ["a", "b", "c"],
            "type": ["buy"] * 3,
            "timestamp": ["2026-05-01"] * 3,
            "amount": pa.array([1.0, math.nan, 2.0]),
            "ref": pa.array([1, 2, 2**60], pa.int64()),
        }
    )
    pq.write_table(table, path)
    with pytest.raises(DataFileError) as info:
        read_events(path)
    assert [(e.line, e.column) for e in info.value.errors] == [(2, "amount"), (3, "ref")]
    assert "row 2" in str(info.value)


def test_csv_keeps_numeric_text_beyond_the_range_as_text() -> None:
    assert coerce_cell("9007199254740992") == MAX_MAGNITUDE
    assert coerce_cell("9007199254740993") == "9007199254740993"  # a long reference number
    assert coerce_cell("1e300") == "1e300"
    assert coerce_cell("1e999") == "1e999"
    assert coerce_cell("-12.5") == -12.5


def test_exact_sum_never_raises() -> None:
    assert exact_sum([0.1, 0.2, -0.3]) == math.fsum([0.1, 0.2, -0.3])
    assert exact_sum([1e308, 1e308]) == math.inf
    assert exact_sum([-1e308, -1e308]) == -math.inf
    assert exact_sum([1e308, 1e308, -1e308]) == 1e308  # partial sums overflow, the sum does not
    assert math.isnan(exact_sum([math.inf, -math.inf]))
