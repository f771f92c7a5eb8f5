"""Decayed sums over index ranges of a lead's sorted event times, with an error bound: what the
one-pass lifecycle replay (`engine.spans`) needs to bound a decaying rule's points over a span without
summing every event at every time."""

from __future__ import annotations

from bisect import bisect_right

_EPS = 2.0**-52
_FAR = 1000  # half-lives: older events weigh less than 2**-1000 of their points


class HalfLifeSums:
    """Sums of 0.5 ** ((t - ts) / half_life) over index ranges of sorted times, approximately, with a
    bound on the error: prefix sums of the weights 2 ** ((ts - anchor) / h) in blocks spanning at
    most 512 half-lives (no overflow), each block anchored at its last event."""

    def __init__(self, ts: list[int], half_life: int) -> None:
        self.h = float(half_life)
        self.ts = ts
        self.cum: list[float] = []
        self.block: list[int] = []  # block of each event
        self.starts: list[int] = []
        self.anchors: list[int] = []
        i, n = 0, len(ts)
        while i < n:
            j = i
            while j + 1 < n and ts[j + 1] - ts[i] <= 512 * half_life:
                j += 1
            anchor = ts[j]
            self.starts.append(i)
            self.anchors.append(anchor)
            total = 0.0
            for k in range(i, j + 1):
                total += 2.0 ** ((ts[k] - anchor) / self.h)
                self.cum.append(total)
                self.block.append(len(self.starts) - 1)
            i = j + 1

    def at(self, t: int, lo: int, hi: int) -> tuple[float, float]:
        """(sum, error bound) over the events lo..hi-1, all at or before t."""
        if lo >= hi:
            return 0.0, 0.0
        total, err = 0.0, 0.0
        first, last = self.block[lo], self.block[hi - 1]
        near = bisect_right(self.anchors, t - _FAR * self.h, first, last + 1)
        if near > first:  # blocks whose every event is older than _FAR half-lives
            end = self.starts[near] if near < len(self.starts) else hi
            err += (min(end, hi) - lo) * 2.0**-_FAR
            lo = max(lo, end)
        for b in range(max(first, near), last + 1):
            start = self.starts[b]
            a, e = max(lo, start), min(hi, self.starts[b + 1] if b + 1 < len(self.starts) else hi)
            if a >= e:
                continue
            part = self.cum[e - 1] - (self.cum[a - 1] if a > start else 0.0)
            scale = 2.0 ** (-(t - self.anchors[b]) / self.h)
            total += part * scale
            err += 16 * (e - start + 8) * _EPS * self.cum[e - 1] * scale
        return total, err + 16 * (hi - lo + 8) * _EPS * total


class LinearSums:
    """Sums of 1 - (t - ts) / length over index ranges (every event within `length` of t), from
    prefix sums of the integer times: exact up to the last few roundings."""

    def __init__(self, ts: list[int], length: int) -> None:
        self.length = float(length)
        self.prefix = [0]
        for x in ts:
            self.prefix.append(self.prefix[-1] + x)

    def at(self, t: int, lo: int, hi: int) -> tuple[float, float]:
        n = hi - lo
        if n <= 0:
            return 0.0, 0.0
        ages = n * t - (self.prefix[hi] - self.prefix[lo])  # exact integer
        total = n - ages / self.length
        return total, 16 * _EPS * (n + 8) * (n + abs(ages) / self.length)
