"""Rows to domain objects and back: events, results.

A stored event always carries its key as `id` (the id it came with, or the content key of
`leadscore.domain.event_key`), so that reloading it never changes its identity, even after a
merge moved it to another lead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadscore.domain import BreakdownEntry, Event, PlaybookMatch, Result, StageChange
from leadscore.domain.timeutil import from_micros, to_micros

UNPRIORITISED_RANK = 1_000_000_000
NO_PLAYBOOK_RANK = 2_000_000_000


def event_of(row: Mapping[Any, Any]) -> Event:
    return Event(row["lead_id"], row["type"], from_micros(row["ts"]), row["properties"], row["event_key"])


def queue_rank(result: Result) -> int:
    """Playbook priority first, then playbooks without one, then no playbook (lifecycle/queue.py)."""
    if result.playbook is None:
        return NO_PLAYBOOK_RANK
    if result.playbook.priority is None:
        return UNPRIORITISED_RANK
    return min(result.playbook.priority, UNPRIORITISED_RANK - 1)


def playbook_json(match: PlaybookMatch | None) -> dict[str, Any] | None:
    if match is None:
        return None
    return {**match.to_dict(), "index": match.index}


def result_row(result: Result, next_change_at: int | None) -> dict[str, Any]:
    return {
        "lead_id": result.lead_id,
        "model": result.model,
        "model_version": result.model_version,
        "evaluated_at": to_micros(result.at),
        "score": result.score,
        "dimensions": dict(result.dimensions),
        "labels": dict(result.labels),
        "stage": result.stage,
        "stage_history": [{**s.to_dict(), "at": to_micros(s.at)} for s in result.stage_history],
        "playbook": playbook_json(result.playbook),
        "queue_rank": queue_rank(result),
        "breakdown": [b.to_dict() for b in result.breakdown],
        "next_change_at": next_change_at,
    }


def result_of(row: Mapping[Any, Any]) -> Result:
    pb = row["playbook"]
    playbook = None
    if pb is not None:
        playbook = PlaybookMatch(pb["index"], pb["action"], pb["priority"], tuple(pb["content"]), pb["name"])
    return Result(
        lead_id=row["lead_id"],
        at=from_micros(row["evaluated_at"]),
        model=row["model"],
        model_version=row["model_version"],
        score=row["score"],
        dimensions=dict(row["dimensions"]),
        labels=dict(row["labels"]),
        stage=row["stage"],
        stage_history=tuple(
            StageChange(s["stage"], from_micros(s["at"]), s["from"], s["cause"], s["event_id"])
            for s in row["stage_history"] or ()
        ),
        breakdown=tuple(
            BreakdownEntry(b["rule"], b["dimension"], b["points"], b.get("events")) for b in row["breakdown"]
        ),
        playbook=playbook,
    )
