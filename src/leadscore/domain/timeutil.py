"""Timestamps: ISO 8601 in, aware UTC datetimes and epoch microseconds inside.

Every engine (pure, SQL, Spark) compares times as integer microseconds since the epoch so that
window boundaries agree exactly; a timestamp without an offset is UTC (MODEL-FORMAT.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    """The default evaluation time. Only edges call this; the engine always receives `at`."""
    return datetime.now(UTC)


def parse_timestamp(value: object) -> datetime:
    """Read an ISO 8601 text, a datetime or a date into an aware UTC datetime.

    Raises ValueError with a message fit for a user when the value is not a timestamp.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty timestamp")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
    else:
        raise ValueError(f"not a timestamp: {value!r}")
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last instant a datetime holds
        raise ValueError(f"timestamp out of range (years 1 to 9999 in UTC): {value!r}") from None


def to_micros(dt: datetime) -> int:
    """Epoch microseconds, exact (no float rounding)."""
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def to_iso(dt: datetime) -> str:
    """`2026-06-01T00:00:00Z`: UTC with a Z, microseconds only when present.

    `isoformat` gives the same text as the `strftime` formats below in about a third of the time (a
    trigger's payload formats a handful of times per firing), except for years before 1000, which
    `%Y` writes unpadded: those keep `strftime`, so the text never changes."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    if dt.year < 1000:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ")
    return dt.isoformat()[:-6] + "Z"  # without its "+00:00"
