"""Random helpers shared by the lead and event generators.

Per-chunk generators come from a seed sequence of (seed, kind, chunk) so that a chunk's data never
depends on how many chunks came before it. Company attributes use a counter-based hash instead, so
that every lead of the same company sees the same company, whichever chunk it falls in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

KIND_CODES = {"b2b": 1, "b2c": 2}

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def chunk_rng(seed: int, kind: str, chunk: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, KIND_CODES[kind], chunk]))


def hash_uniform(seed: int, keys: np.ndarray, salt: int) -> np.ndarray:
    """Uniform [0, 1) floats that are a pure function of (seed, key, salt): splitmix64 finalizer."""
    with np.errstate(over="ignore"):
        x = keys.astype(np.uint64) * _GOLDEN
        x ^= np.uint64((seed * 0x632BE59BD9B4E019 + salt * 0x8CB92BA72F3D8DD7) & 0xFFFFFFFFFFFFFFFF)
        x ^= x >> np.uint64(30)
        x *= _M1
        x ^= x >> np.uint64(27)
        x *= _M2
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def pick(u: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Categorical draw by inverse CDF: `u` uniform in [0, 1) -> index into `weights`."""
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    cum /= cum[-1]
    return np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1).astype(np.int32)


def pick_rows(u: np.ndarray, rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Categorical draw where each draw uses its own row of a weight `table` (rows x categories).

    Loops over the few distinct rows rather than broadcasting, which would cost rows x categories floats.
    """
    out = np.zeros(len(u), dtype=np.int32)
    for row in np.unique(rows):
        mask = rows == row
        out[mask] = pick(u[mask], table[row])
    return out
