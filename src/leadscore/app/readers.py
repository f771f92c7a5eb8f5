"""The read side in typed shapes: a lead's explanation, its history, the account roll-ups."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.app.results import (
    Account,
    EventView,
    Explanation,
    Export,
    History,
    LeadView,
    ScoredLead,
    ScorePoint,
    StageMove,
    iso,
)
from leadscore.engine import Scorer
from leadscore.store import queries
from leadscore.store.accounts import accounts as account_rollup
from leadscore.store.codec import result_of
from leadscore.store.events_repo import recent_events
from leadscore.store.tables import results


def history(conn: Connection, lead_id: str) -> History:
    return History(
        lead_id=lead_id,
        score_history=[ScorePoint(**h) for h in queries.score_history_of(conn, lead_id)],
        stage_history=[StageMove.model_validate(h) for h in queries.stage_history_of(conn, lead_id)],
    )


def explanation(conn: Connection, lead_id: str, last_events: int = 10) -> Explanation | None:
    """The stored result with its breakdown, the last events, and the score and stage history."""
    found = queries.result(conn, lead_id)
    lead = queries.lead_row(conn, lead_id)
    if found is None and lead is None:
        return None
    past = history(conn, lead_id)
    scored = ScoredLead.of(found).model_dump(by_alias=False) if found else {"lead_id": lead_id}
    return Explanation(
        **scored,
        attributes=lead["attributes"] if lead else {},
        account=lead["account"] if lead else None,
        events=[EventView.of(e) for e in recent_events(conn, lead_id, last_events)],
        score_history=past.score_history,
        stage_history=past.stage_history,
    )


def accounts(conn: Connection, scorer: Scorer, at: int, account: str | None = None) -> list[Account]:
    return [Account(**a) for a in account_rollup(conn, scorer, at, account)]


def result_row(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(results).where(results.c.lead_id == lead_id)).mappings().first()
    return dict(row) if row else None


def lead_view(lead: dict[str, Any], row: dict[str, Any] | None, now_us: int, pending: bool = False) -> LeadView:
    due = row["next_change_at"] if row is not None else None
    return LeadView(
        id=lead["id"],
        attributes=lead["attributes"] or {},
        account=lead["account"],
        created_at=iso(lead["created_at"]) or "",
        updated_at=iso(lead["updated_at"]) or "",
        result=ScoredLead.of(result_of(row)) if row is not None else None,
        current=row is not None and not pending and (due is None or due > now_us),
        pending=pending,
        next_change_at=iso(due),
    )


_EVENT_FIELDS = ("id", "lead_id", "type", "timestamp", "received_lead_id", "ingested_at")


def export(found: dict[str, Any]) -> Export:
    """The privacy export's flat events (properties beside the fields) with their properties apart."""
    events = [
        {
            **{k: e[k] for k in _EVENT_FIELDS if k in e},
            "properties": {k: v for k, v in e.items() if k not in _EVENT_FIELDS},
        }
        for e in found["events"]
    ]
    return Export.model_validate({**found, "events": events})
