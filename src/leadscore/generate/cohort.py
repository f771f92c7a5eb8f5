"""One chunk of leads as both the table that is written and the hidden values that drive their events."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa


@dataclass
class Cohort:
    ids: pa.Array  # "L0000001"-style lead ids of this chunk
    table: pa.Table  # the leads table rows of this chunk
    created: np.ndarray  # epoch seconds
    fit: np.ndarray  # hidden
    intent: np.ndarray  # hidden
    traits: dict[str, np.ndarray] = field(default_factory=dict)  # kind-specific inputs of behaviour

    def __len__(self) -> int:
        return len(self.created)


def created_times(rng: np.random.Generator, count: int, start: int, end: int) -> np.ndarray:
    """Sign-up times over the window, denser towards its end as marketing grows."""
    u = rng.random(count) ** (1 / 1.4)
    return (start + (u * (end - start - 1))).astype(np.int64)


def normal_from(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    """Box-Muller, for normals derived from hashed uniforms rather than a generator."""
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2 * np.pi * u2)
