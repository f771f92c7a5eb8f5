"""Retry timing: exponential, capped, jittered the same way every time, and Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from leadscore.webhooks import backoff_delay, parse_retry_after

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def delay(attempt: int, seed: str = "trg_a", jitter: float = 0.2) -> float:
    return backoff_delay(attempt, base=30, factor=3, cap=3600, jitter=jitter, seed=seed)


def test_grows_exponentially_within_the_jitter_band_and_stops_at_the_cap() -> None:
    for attempt in range(1, 12):
        raw = min(3600, 30 * 3 ** (attempt - 1))
        assert raw * 0.8 <= delay(attempt) <= raw
    assert delay(1, jitter=0) == 30 and delay(3, jitter=0) == 270 and delay(500, jitter=0) == 3600


def test_jitter_is_deterministic_and_spreads_messages() -> None:
    assert delay(2, "trg_a") == delay(2, "trg_a")
    spread = {round(delay(2, f"trg_{i}"), 6) for i in range(50)}
    assert len(spread) > 40


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError):
        delay(0)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Mon, 01 Jun 2026 12:02:00 GMT", 120.0),
        ("Mon, 01 Jun 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds
