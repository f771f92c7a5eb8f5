"""The append-only event log: idempotent inserts and whole timelines per lead."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.domain import Event, event_key
from leadscore.store.base import LeadStore
from leadscore.store.codec import event_of
from leadscore.store.leads_repo import chunks
from leadscore.store.tables import events

INSERT_CHUNK = 2000


def event_rows(batch: Sequence[Event], resolved: dict[str, str], now: int) -> list[dict[str, Any]]:
    """Rows for new events, first of each key only; `resolved` maps aliased lead ids to their lead."""
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    for event in batch:
        key = event_key(event)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "event_key": key,
                "lead_id": resolved.get(event.lead_id, event.lead_id),
                "received_lead_id": event.lead_id,
                "type": event.type,
                "ts": event.ts,
                "properties": dict(event.properties),
                "ingested_at": now,
            }
        )
    return rows


def insert_events(store: LeadStore, conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Insert, skipping keys already stored; returns the rows that were new (in input order)."""
    new_keys: set[str] = set()
    for part in chunks(rows, INSERT_CHUNK):
        stmt = store.insert(events).on_conflict_do_nothing(index_elements=["event_key"]).returning(events.c.event_key)
        new_keys.update(conn.execute(stmt, list(part)).scalars())
    return [r for r in rows if r["event_key"] in new_keys]


def load_timelines(conn: Connection, lead_ids: Sequence[str]) -> dict[str, list[Event]]:
    """Every stored event of the leads, in time order, ties in input order."""
    out: dict[str, list[Event]] = defaultdict(list)
    cols = (events.c.event_key, events.c.lead_id, events.c.type, events.c.ts, events.c.properties)
    for part in chunks(sorted(set(lead_ids))):
        query = sa.select(*cols).where(events.c.lead_id.in_(part)).order_by(events.c.lead_id, events.c.ts, events.c.seq)
        for row in conn.execute(query).mappings():
            out[row["lead_id"]].append(event_of(row))
    return out


def recent_events(conn: Connection, lead_id: str, limit: int) -> list[Event]:
    cols = (events.c.event_key, events.c.lead_id, events.c.type, events.c.ts, events.c.properties)
    query = sa.select(*cols).where(events.c.lead_id == lead_id).order_by(events.c.ts.desc(), events.c.seq.desc())
    return [event_of(r) for r in conn.execute(query.limit(limit)).mappings()]
