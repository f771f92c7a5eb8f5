"""Right to be forgotten and right of access: erase a lead, or export everything held about it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.domain.timeutil import from_micros, to_iso
from leadscore.store.base import LeadStore
from leadscore.store.codec import event_of
from leadscore.store.queries import attribute_history_of, lead_row, result, score_history_of, stage_history_of
from leadscore.store.tables import (
    aliases,
    deliveries,
    erasures,
    events,
    lead_attribute_history,
    leads,
    outbox,
    pending_rescore,
    result_basis,
    results,
    score_history,
    stage_history,
)


def person(conn: Connection, lead_id: str) -> str | None:
    """The lead holding `lead_id`'s data: itself, or the lead a merge or an identify made it an
    alias of; None when the store holds nothing under that id."""
    if lead_row(conn, lead_id) is not None:
        return lead_id
    kept = conn.execute(sa.select(aliases.c.lead_id).where(aliases.c.alias == lead_id)).scalar()
    return None if kept is None else str(kept)


def erase(store: LeadStore, conn: Connection, lead_id: str) -> dict[str, int]:
    """Delete the lead and every row about it (its aliases too); returns how many rows per table."""
    store.lock_leads(conn, [lead_id])
    counts: dict[str, int] = {}
    ids = sa.select(outbox.c.id).where(outbox.c.lead_id == lead_id)
    counts["deliveries"] = conn.execute(deliveries.delete().where(deliveries.c.outbox_id.in_(ids))).rowcount
    for table in (events, lead_attribute_history, score_history, stage_history, outbox, results, aliases):
        counts[table.name] = conn.execute(table.delete().where(table.c.lead_id == lead_id)).rowcount
    counts["leads"] = conn.execute(leads.delete().where(leads.c.id == lead_id)).rowcount
    conn.execute(pending_rescore.delete().where(pending_rescore.c.lead_id == lead_id))  # a queue entry, not data
    conn.execute(result_basis.delete().where(result_basis.c.lead_id == lead_id))  # a count, with the lead's id
    if counts["events"] or counts["lead_attribute_history"] or counts["score_history"]:
        # the logs' highest numbers may have gone with the person: SQLite would give them again
        floors = sa.select(
            sa.select(sa.func.coalesce(sa.func.max(events.c.seq), 0)).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.max(lead_attribute_history.c.id), 0)).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.max(score_history.c.id), 0)).scalar_subquery(),
        )
        conn.execute(erasures.insert().from_select(["events_floor", "attributes_floor", "history_floor"], floors))
    return counts


def export(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    """Everything held about the lead, as JSON-ready data."""
    lead = lead_row(conn, lead_id)
    if lead is None:
        return None
    found = result(conn, lead_id)
    evs = conn.execute(sa.select(events).where(events.c.lead_id == lead_id).order_by(events.c.ts, events.c.seq))
    event_list = []
    for row in evs.mappings():
        item = event_of(row).to_dict()
        item["received_lead_id"] = row["received_lead_id"]
        item["ingested_at"] = to_iso(from_micros(row["ingested_at"]))
        event_list.append(item)
    alias_rows = conn.execute(sa.select(aliases).where(aliases.c.lead_id == lead_id)).mappings()
    out_rows = conn.execute(sa.select(outbox).where(outbox.c.lead_id == lead_id).order_by(outbox.c.id)).mappings()
    log = _deliveries(conn, lead_id)
    return {
        "lead": {
            "id": lead_id,
            "attributes": lead["attributes"],
            "account": lead["account"],
            "created_at": to_iso(from_micros(lead["created_at"])),
            "updated_at": to_iso(from_micros(lead["updated_at"])),
        },
        "result": found.to_dict(history=True) if found else None,
        "events": event_list,
        "aliases": [{"alias": a["alias"], "cause": a["cause"]} for a in alias_rows],
        "attribute_history": attribute_history_of(conn, lead_id),
        "score_history": score_history_of(conn, lead_id),
        "stage_history": stage_history_of(conn, lead_id),
        "triggers": [
            {
                "trigger": o["trigger_id"],
                "destination": o["destination"],
                "status": o["status"],
                "payload": o["payload"],
                "deliveries": log.get(o["id"], []),
            }
            for o in out_rows
        ],
    }


def _deliveries(conn: Connection, lead_id: str) -> dict[int, list[dict[str, Any]]]:
    """The delivery log of the lead's outbox messages, by message, oldest attempt first."""
    ids = sa.select(outbox.c.id).where(outbox.c.lead_id == lead_id)
    query = sa.select(deliveries).where(deliveries.c.outbox_id.in_(ids)).order_by(deliveries.c.id)
    out: dict[int, list[dict[str, Any]]] = {}
    for d in conn.execute(query).mappings():
        out.setdefault(d["outbox_id"], []).append(
            {
                "attempt": d["attempt"],
                "at": to_iso(from_micros(d["at"])),
                "ok": d["ok"],
                "status_code": d["status_code"],
                "error": d["error"],
                "duration_ms": d["duration_ms"],
            }
        )
    return out
