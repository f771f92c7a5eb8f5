"""Durations such as `30d` or `6mo`, with fixed unit lengths so that every engine agrees.

`mo` is exactly 30 days and `y` exactly 365 days (MODEL-FORMAT.md).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from leadscore.model.limits import MAX_DURATION_S

UNITS: dict[str, int] = {
    "s": 1,
    "min": 60,
    "h": 3_600,
    "d": 86_400,
    "w": 7 * 86_400,
    "mo": 30 * 86_400,
    "y": 365 * 86_400,
}
_PATTERN = re.compile(r"^\s*([0-9]+)\s*(s|min|h|d|w|mo|y)\s*$")
PATTERN_TEXT = r"^[0-9]+(s|min|h|d|w|mo|y)$"


class Duration(int):
    """A whole number of seconds that remembers how it was written."""

    text: str

    def __new__(cls, seconds: int, text: str | None = None) -> Duration:
        obj = super().__new__(cls, seconds)
        obj.text = text or canonical_text(seconds)
        return obj

    @property
    def micros(self) -> int:
        return int(self) * 1_000_000

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"


def canonical_text(seconds: int) -> str:
    """The largest unit that divides the length exactly: 720h -> 30d, so equal models hash equal."""
    for unit in ("y", "mo", "w", "d", "h", "min", "s"):
        if seconds % UNITS[unit] == 0:
            return f"{seconds // UNITS[unit]}{unit}"
    return f"{seconds}s"  # pragma: no cover - "s" always divides


def parse_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected a duration such as 90s, 30min, 12h, 180d, 26w, 6mo or 1y, got {value!r}")
    m = _PATTERN.match(value)
    if not m:
        raise ValueError(f"expected a duration such as 90s, 30min, 12h, 180d, 26w, 6mo or 1y, got {value!r}")
    digits = m.group(1).lstrip("0") or "0"
    if len(digits) > 12:  # refused before converting: no need to turn a million digits into an int
        raise ValueError(f"a duration of at most 100y (the limit), got {value[:40]!r}")
    amount = int(digits)
    if amount <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    seconds = amount * UNITS[m.group(2)]
    if seconds > MAX_DURATION_S:
        raise ValueError(f"a duration of at most 100y (the limit), got {value!r}")
    return Duration(seconds, value.strip())


DurationField = Annotated[
    Duration,
    PlainValidator(parse_duration),
    PlainSerializer(lambda d: canonical_text(int(d)), return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": PATTERN_TEXT, "description": "a duration: 90s, 30min, 12h, 180d, 26w, 6mo, 1y"}
    ),
]
