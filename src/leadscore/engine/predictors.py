"""The seam between rule scoring and trained models: a predictive dimension asks a Predictor.

The engine stays pure: a predictor is a deterministic function of (lead attributes, events up to T, T),
loaded from a versioned artifact, and its version is part of the scorer's version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from leadscore.engine.timeline import Timeline


@dataclass(frozen=True, slots=True)
class Factor:
    """One reason behind a prediction, in words a salesperson can read: `seniority = director (+0.8)`."""

    text: str
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {"factor": self.text, "weight": self.weight}


@dataclass(frozen=True, slots=True)
class Prediction:
    probability: float
    positive: tuple[Factor, ...] = ()
    negative: tuple[Factor, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "probability": self.probability,
            "top_positive": [f.to_dict() for f in self.positive],
            "top_negative": [f.to_dict() for f in self.negative],
        }


class Predictor(Protocol):
    version: str

    def predict_one(self, attributes: Mapping[str, Any], timeline: Timeline, at_us: int, top: int) -> Prediction: ...
