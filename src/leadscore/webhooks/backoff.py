"""When to try a failed delivery again: exponential backoff, deterministic jitter, Retry-After.

The jitter is derived from the message id and the attempt number rather than a random generator,
so a schedule can be reproduced (and tested) while messages that failed together still spread out.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.utils import parsedate_to_datetime


def jitter_fraction(seed: str, attempt: int) -> float:
    """A number in [0, 1), fixed for a (seed, attempt) pair and spread evenly across seeds."""
    digest = hashlib.sha256(f"{seed}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def backoff_delay(attempt: int, *, base: float, factor: float, cap: float, jitter: float, seed: str) -> float:
    """Seconds to wait after the `attempt`-th failure (1-based): `base * factor ** (attempt - 1)`,
    at most `cap`, less up to `jitter` of it so that the cap is never exceeded."""
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1, got {attempt}")
    exponent = min(attempt - 1, 64)  # beyond this the cap wins anyway; avoids float overflow
    raw = min(cap, base * factor**exponent)
    return raw * (1.0 - jitter * jitter_fraction(seed, attempt))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds asked for by a `Retry-After` header (delta-seconds or an HTTP date); None if absent
    or unreadable. A date in the past means "now" (0 seconds)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())
