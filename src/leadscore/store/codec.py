"""Rows to domain objects and back: events, results.

A stored event always carries its key as `id` (the id it came with, or the content key of
`leadscore.domain.event_key`), so that reloading it never changes its identity. Ids are per lead:
an event that a merge or an identify moved to another lead keeps its key scoped to the lead it
arrived under (`timeline_id`), so two people's events with the same id stay two events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadscore.domain import BreakdownEntry, Event, PlaybookMatch, Result, StageChange
from leadscore.domain.timeutil import from_micros, to_micros

UNPRIORITISED_RANK = 1_000_000_000
NO_PLAYBOOK_RANK = 2_000_000_000


#: Between the lead an event arrived under and its key, in the id of an event a merge moved.
MOVED_SEPARATOR = "/"


def timeline_id(key: str, lead_id: str, received_lead_id: str) -> str:
    """The event's id within its lead's timeline: its key, prefixed by the lead it arrived under
    when that is another lead (a merge or an identify moved it), so ids stay unique per lead."""
    return key if received_lead_id == lead_id else f"{received_lead_id}{MOVED_SEPARATOR}{key}"


def timeline_id_sql(key: str = "event_key", lead: str = "lead_id", received: str = "received_lead_id") -> str:
    """`timeline_id` as SQL (SQLite, PostgreSQL and DuckDB alike), for the bulk paths."""
    return f"CASE WHEN {received} = {lead} THEN {key} ELSE {received} || '{MOVED_SEPARATOR}' || {key} END"


def event_of(row: Mapping[Any, Any]) -> Event:
    """The event of a stored row (with `received_lead_id`), as the pure scorer reads it."""
    lead_id = row["lead_id"]
    event_id = timeline_id(row["event_key"], lead_id, row["received_lead_id"])
    return Event(lead_id, row["type"], from_micros(row["ts"]), row["properties"], event_id)


def queue_rank(result: Result) -> int:
    """Playbook priority first, then playbooks without one, then no playbook (triggers/queue_order.py)."""
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
