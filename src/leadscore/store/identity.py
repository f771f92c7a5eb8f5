"""Identity: anonymous visitors identified as leads, and two leads found to be one person.

An `identify` event (type `identify`, property `anonymous_id`, on the lead it identifies) links
the anonymous id to the lead: the events stored under that id move to the lead, and later events
under it go to the lead directly. `merge(keep, other)` does the same for two known leads. Nothing
is thrown away: events keep the lead id they arrived with (`received_lead_id`), and the other
lead's score, stage and attribute history move over to the kept lead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.domain import Event
from leadscore.store.base import LeadStore
from leadscore.store.leads_repo import account_of
from leadscore.store.tables import (
    aliases,
    events,
    lead_attribute_history,
    leads,
    outbox,
    result_basis,
    results,
    score_history,
    stage_history,
)

IDENTIFY = "identify"
ANONYMOUS_ID = "anonymous_id"


def identities(batch: Iterable[Event]) -> list[tuple[str, str]]:
    """(anonymous id, lead id) of each identify event, in input order."""
    out: list[tuple[str, str]] = []
    for event in batch:
        if event.type == IDENTIFY:
            anon = event.properties.get(ANONYMOUS_ID)
            if isinstance(anon, str | int) and not isinstance(anon, bool) and str(anon) != event.lead_id:
                out.append((str(anon), event.lead_id))
    return out


def merge_into(store: LeadStore, conn: Connection, keep: str, other: str, now: int, cause: str) -> bool:
    """Move everything held under `other` to `keep` and make `other` an alias of it.

    The kept lead's attributes win; the other's fill the gaps. The caller locks both leads and
    rescores `keep` afterwards. Returns False when `other` was already an alias (nothing to do).
    """
    if keep == other:
        return False
    existing = conn.execute(sa.select(aliases.c.lead_id).where(aliases.c.alias == other)).scalar()
    if existing is not None:
        return False
    other_lead = conn.execute(sa.select(leads).where(leads.c.id == other)).mappings().first()
    if other_lead is not None:
        kept = conn.execute(sa.select(leads.c.attributes).where(leads.c.id == keep)).scalar_one()
        gaps = {k: v for k, v in (other_lead["attributes"] or {}).items() if k not in kept}
        if gaps:
            merged = {**kept, **gaps}
            conn.execute(
                leads.update()
                .where(leads.c.id == keep)
                .values(attributes=merged, account=account_of(merged), updated_at=now)
            )
            changes: dict[str, Any] = {k: [None, v] for k, v in gaps.items()}
            conn.execute(
                lead_attribute_history.insert(), [{"lead_id": keep, "at": now, "changes": changes, "source": cause}]
            )
    for table in (events, lead_attribute_history, score_history, stage_history, outbox):
        conn.execute(table.update().where(table.c.lead_id == other).values(lead_id=keep))
    # The other lead's score leaves with it: a balancing entry keeps the kept lead's history summing
    # to its stored score before the rescore that follows.
    other_result = conn.execute(sa.select(results).where(results.c.lead_id == other)).mappings().first()
    if other_result is not None and other_result["score"] != 0:
        kept_score = conn.execute(sa.select(results.c.score).where(results.c.lead_id == keep)).scalar() or 0.0
        conn.execute(
            score_history.insert(),
            [
                {
                    "lead_id": keep,
                    "at": now,
                    "model_version": other_result["model_version"],
                    "score": kept_score,
                    "delta": -other_result["score"],
                    "dimensions": other_result["dimensions"],
                    "cause": f"{cause}:removed {other}",
                }
            ],
        )
    conn.execute(results.delete().where(results.c.lead_id == other))
    # the kept lead's result no longer describes the first `events_seen` events of its log (the moved
    # events keep their log positions): no incremental rescoring from it, until it is rewritten
    conn.execute(result_basis.delete().where(result_basis.c.lead_id.in_([keep, other])))
    conn.execute(leads.delete().where(leads.c.id == other))
    conn.execute(aliases.update().where(aliases.c.lead_id == other).values(lead_id=keep))
    store.insert_ignore(conn, aliases, [{"alias": other, "lead_id": keep, "created_at": now, "cause": cause}])
    return True
