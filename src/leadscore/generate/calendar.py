"""The time window and the named marketing campaigns that run inside it.

Campaign dates are fractions of the window, so campaigns fall inside whatever `--start/--end` the user
chooses and the same arguments always give the same dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from leadscore.domain.timeutil import to_iso

_WEEK = 7 * 86_400


@dataclass(frozen=True)
class Campaign:
    name: str
    start: float  # fraction of the window
    end: float


@dataclass(frozen=True)
class Calendar:
    start: int  # epoch seconds
    end: int
    campaigns: tuple[Campaign, ...]

    @property
    def span(self) -> int:
        return self.end - self.start

    def campaign_dates(self) -> list[dict[str, str]]:
        return [
            {"name": c.name, "start": _iso(self.start + int(c.start * self.span)),
             "end": _iso(self.start + int(c.end * self.span))}
            for c in self.campaigns
        ]

    def active(self, t: np.ndarray, u: np.ndarray) -> np.ndarray:
        """For each time, one of the campaigns running then (index into `campaigns`), or -1 if none."""
        n_bins = self.span // _WEEK + 1
        mids = self.start + (np.arange(n_bins) + 0.5) * _WEEK
        table = np.full((n_bins, len(self.campaigns)), -1, dtype=np.int32)
        counts = np.zeros(n_bins, dtype=np.int64)
        for i, c in enumerate(self.campaigns):
            on = (mids >= self.start + c.start * self.span) & (mids < self.start + c.end * self.span)
            table[on, counts[on]] = i
            counts[on] += 1
        bins = np.clip((t - self.start) // _WEEK, 0, n_bins - 1)
        k = np.minimum((u * counts[bins]).astype(np.int64), np.maximum(counts[bins] - 1, 0))
        out = table[bins, k]
        return np.where(counts[bins] > 0, out, -1).astype(np.int32)


def _iso(seconds: int) -> str:
    return to_iso(datetime.fromtimestamp(seconds, UTC))
