"""Time helpers: the text of a time is the same whichever way it is made."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from leadscore.domain.timeutil import from_micros, to_iso


def _strftime_iso(dt: datetime) -> str:
    """`to_iso` as it was written first (the reference)."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if dt.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def test_to_iso_is_the_strftime_text_for_any_time_and_zone() -> None:
    rng = random.Random(11)
    first, last = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)
    span = int((last - first).total_seconds())
    zones = [UTC, timezone(timedelta(0)), timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    samples = [
        datetime(999, 12, 31, 23, 59, 59, tzinfo=UTC),  # `%Y` writes 999, not 0999
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(5, 3, 1, 0, 0, 0, 7, tzinfo=UTC),
        from_micros(0),
        from_micros(1_780_000_000_123_456),
    ]
    for _ in range(20_000):
        dt = first + timedelta(seconds=rng.randrange(span))
        if rng.random() < 0.5:
            dt = dt.replace(microsecond=rng.randrange(1_000_000))
        samples.append(dt.astimezone(rng.choice(zones)))
    for dt in samples:
        assert to_iso(dt) == _strftime_iso(dt), dt
