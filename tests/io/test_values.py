from datetime import UTC, datetime, timedelta, timezone

import pytest

from leadscore.domain.timeutil import parse_timestamp
from leadscore.io.values import coerce_cell, id_text, to_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("-4", -4),
        ("0", 0),
        ("1.5", 1.5),
        ("-3e2", -300.0),
        ("0.25", 0.25),
        (".5", 0.5),
        ("1E3", 1000.0),
    ],
)
def test_numeric_text_becomes_a_number(text: str, expected: float) -> None:
    value = coerce_cell(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        "007",
        "0612345678",
        "+4799887766",
        "+5",
        "+1.5",
        "-007",
        "00.5",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "1e999",
        "true",
        "false",
        "1,5",
        "1_000",
        "12abc",
        "0x1F",
        "2026-01-01",
        "+",
        "-",
        ".",
        "e5",
    ],
)
def test_text_that_only_looks_numeric_stays_text(text: str) -> None:
    assert coerce_cell(text) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("c-1", "c-1"),
        ("  c-1 ", "c-1"),
        (17, "17"),
        (17.0, "17"),
        ("", None),
        ("  ", None),
        (True, None),
        (1.5, None),
        ([1], None),
    ],
)
def test_id_text(value: object, expected: str | None) -> None:
    assert id_text(value) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T10:00:00Z",
        "2026-01-01T10:00:00+00:00",
        "2026-01-01T12:00:00+02:00",
        "2026-01-01",
        "2026-01-01 10:00:00",
        "2026-01-01T10:00:00.123456z",
        " 2026-01-01T10:00:00Z ",
    ],
)
def test_to_timestamp_agrees_with_parse_timestamp(text: str) -> None:
    fast = to_timestamp(text)
    assert fast == parse_timestamp(text)
    assert fast.utcoffset() == timedelta(0)


def test_to_timestamp_takes_naive_as_utc_and_converts_offsets() -> None:
    assert to_timestamp("2026-01-01T10:00:00") == datetime(2026, 1, 1, 10, tzinfo=UTC)
    tz = timezone(timedelta(hours=2))
    assert to_timestamp(datetime(2026, 1, 1, 12, tzinfo=tz)) == datetime(2026, 1, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "", 12, None])
def test_to_timestamp_refuses_what_is_not_a_time(bad: object) -> None:
    with pytest.raises(ValueError):
        to_timestamp(bad)
