"""The result of scoring one lead, in the shape every interface returns (MODEL-FORMAT.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from leadscore.domain.timeutil import parse_timestamp, to_iso


@dataclass(frozen=True, slots=True)
class BreakdownEntry:
    """One rule's contribution, or a `cap:<dim>` / `floor:<dim>` adjustment.

    `events` is the number of events that matched an event rule's filter and window; None for
    condition rules and adjustments.
    """

    rule: str
    dimension: str
    points: float
    events: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "dimension": self.dimension, "points": self.points}
        if self.events is not None:
            out["events"] = self.events
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BreakdownEntry:
        return cls(data["rule"], data["dimension"], float(data["points"]), data.get("events"))


@dataclass(frozen=True, slots=True)
class StageChange:
    """One step of the lifecycle replay: why and when the lead entered `stage`."""

    stage: str
    at: datetime
    previous: str | None
    cause: str  # "initial", "event:<type>", "auto", "manual"
    event_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "at": to_iso(self.at),
            "from": self.previous,
            "cause": self.cause,
            "event_id": self.event_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageChange:
        return cls(data["stage"], parse_timestamp(data["at"]), data.get("from"), data["cause"], data.get("event_id"))


class StageColumns(NamedTuple):
    """`StageChange`s as columns: one lead's, or a part's lead after lead (the bulk history pass's walk,
    `bulk.walk_part`), without an object per change."""

    to: Sequence[str]
    previous: Sequence[str | None]
    cause: Sequence[str]
    event_id: Sequence[str | None]
    t: Sequence[int]  # microseconds


@dataclass(frozen=True, slots=True)
class PlaybookMatch:
    """The first matching playbook; `index` (its position in the model) is not part of the result shape."""

    index: int = field(compare=False)
    action: str | None
    priority: int | None
    content: tuple[str, ...] = ()
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "priority": self.priority,
            "content": list(self.content),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], index: int = -1) -> PlaybookMatch:
        return cls(
            data.get("index", index),
            data.get("action"),
            data.get("priority"),
            tuple(data.get("content") or ()),
            data.get("name"),
        )


@dataclass(frozen=True, slots=True)
class Result:
    lead_id: str
    at: datetime
    model: str
    model_version: str
    score: float
    dimensions: dict[str, float]
    labels: dict[str, str | None]
    stage: str | None
    breakdown: tuple[BreakdownEntry, ...]
    playbook: PlaybookMatch | None = None
    stage_history: tuple[StageChange, ...] = ()
    extras: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, *, history: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lead_id": self.lead_id,
            "at": to_iso(self.at),
            "model": self.model,
            "model_version": self.model_version,
            "score": self.score,
            "dimensions": dict(self.dimensions),
            "labels": dict(self.labels),
            "stage": self.stage,
            "breakdown": [b.to_dict() for b in self.breakdown],
            "playbook": self.playbook.to_dict() if self.playbook else None,
        }
        if history:
            out["stage_history"] = [s.to_dict() for s in self.stage_history]
        out.update(self.extras)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Rebuild a result stored as `to_dict(history=True)`; unknown keys become extras."""
        known = {
            "lead_id",
            "at",
            "model",
            "model_version",
            "score",
            "dimensions",
            "labels",
            "stage",
            "breakdown",
            "playbook",
            "stage_history",
        }
        playbook = data.get("playbook")
        return cls(
            lead_id=data["lead_id"],
            at=parse_timestamp(data["at"]),
            model=data["model"],
            model_version=data["model_version"],
            score=float(data["score"]),
            dimensions={k: float(v) for k, v in data["dimensions"].items()},
            labels=dict(data.get("labels") or {}),
            stage=data.get("stage"),
            breakdown=tuple(BreakdownEntry.from_dict(b) for b in data.get("breakdown") or ()),
            playbook=PlaybookMatch.from_dict(playbook) if playbook else None,
            stage_history=tuple(StageChange.from_dict(h) for h in data.get("stage_history") or ()),
            extras={k: v for k, v in data.items() if k not in known},
        )
