"""Read side: the sales queue, a lead's explanation, its history; all straight from the tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from leadscore.domain import Result
from leadscore.domain.timeutil import from_micros, to_iso
from leadscore.store.base import LeadStore, StoreError
from leadscore.store.codec import result_of
from leadscore.store.events_repo import recent_events
from leadscore.store.realtime_conn import autocommit_driver
from leadscore.store.tables import events, lead_attribute_history, leads, results, score_history, stage_history


def queue(conn: Connection, limit: int | None = None) -> list[Result]:
    """Results in sales-queue order: playbook priority, then score (highest first), then lead id."""
    query = sa.select(results).order_by(results.c.queue_rank, results.c.score.desc(), results.c.lead_id)
    if limit is not None:
        query = query.limit(limit)
    return [result_of(r) for r in conn.execute(query).mappings()]


# built once: SQLAlchemy reuses its cache key and compiled form (reading a lead's result back is on
# the real-time path, where building the statement each time cost about as much as running it)
_RESULT = sa.select(results).where(results.c.lead_id == sa.bindparam("lead_id"))


_NAMES = [c.name for c in results.columns]
_RESULT_PG = f"SELECT {', '.join(_NAMES)} FROM results WHERE lead_id = %s"


def result(conn: Connection, lead_id: str) -> Result | None:
    if conn.dialect.name == "postgresql" and not conn.in_transaction():
        # one statement needs no transaction of its own: without it, no BEGIN and ROLLBACK round trips
        # (READ COMMITTED reads the same rows either way); the pool restores the mode at check-in.
        # On the driver: SQLAlchemy's execution and row mapping cost more CPU than the look-up.
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        return _driver_result(conn.connection.driver_connection, lead_id)
    row = conn.execute(_RESULT, {"lead_id": lead_id}).mappings().first()
    return result_of(row) if row else None


def stored_result(store: LeadStore, lead_id: str) -> Result | None:
    """`result` read by itself (a lead's result after its event, on the real-time path): on PostgreSQL
    on the pool's connection in the driver's autocommit mode, without a SQLAlchemy Connection, whose
    check-out, isolation-level switches and check-in cost more CPU than the look-up."""
    if store.name != "postgres":
        with store.read() as conn:
            return result(conn, lead_id)
    with autocommit_driver(store) as raw:
        return _driver_result(raw, lead_id)


def _driver_result(raw: Any, lead_id: str) -> Result | None:
    with raw.cursor() as cur:
        found = cur.execute(_RESULT_PG, (lead_id,)).fetchone()
    return result_of(dict(zip(_NAMES, found, strict=True))) if found else None


def lead_row(conn: Connection, lead_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(leads).where(leads.c.id == lead_id)).mappings().first()
    return dict(row) if row else None


def _iso(us: int | None) -> str | None:
    return to_iso(from_micros(us)) if us is not None else None


def score_history_of(conn: Connection, lead_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    query = sa.select(score_history).where(score_history.c.lead_id == lead_id).order_by(score_history.c.id)
    rows = list(conn.execute(query).mappings())
    if limit is not None:
        rows = rows[-limit:]
    return [
        {
            "at": _iso(r["at"]),
            "score": r["score"],
            "delta": r["delta"],
            "dimensions": r["dimensions"],
            "model_version": r["model_version"],
            "cause": r["cause"],
        }
        for r in rows
    ]


def stage_history_of(conn: Connection, lead_id: str) -> list[dict[str, Any]]:
    query = sa.select(stage_history).where(stage_history.c.lead_id == lead_id).order_by(stage_history.c.id)
    return [
        {
            "at": _iso(r["at"]),
            "from": r["from_stage"],
            "to": r["to_stage"],
            "cause": r["cause"],
            "event_id": r["event_key"],
            "model_version": r["model_version"],
        }
        for r in conn.execute(query).mappings()
    ]


def attribute_history_of(conn: Connection, lead_id: str) -> list[dict[str, Any]]:
    query = (
        sa.select(lead_attribute_history)
        .where(lead_attribute_history.c.lead_id == lead_id)
        .order_by(lead_attribute_history.c.id)
    )
    return [
        {"at": _iso(r["at"]), "changes": r["changes"], "source": r["source"]} for r in conn.execute(query).mappings()
    ]


def explain(conn: Connection, lead_id: str, last_events: int = 10) -> dict[str, Any] | None:
    """The stored result with its breakdown, the last events, and the score and stage history."""
    found = result(conn, lead_id)
    lead = lead_row(conn, lead_id)
    if found is None and lead is None:
        return None
    out: dict[str, Any] = found.to_dict() if found else {"lead_id": lead_id}
    out["attributes"] = lead["attributes"] if lead else {}
    out["account"] = lead["account"] if lead else None
    out["events"] = [e.to_dict() for e in recent_events(conn, lead_id, last_events)]
    out["score_history"] = score_history_of(conn, lead_id)
    out["stage_history"] = stage_history_of(conn, lead_id)
    return out


def _streamed(store: LeadStore, query: sa.Select[Any], size: int) -> Iterator[list[dict[str, Any]]]:
    try:
        with store.read() as conn:
            result = conn.execution_options(stream_results=True).execute(query)
            while batch := result.mappings().fetchmany(size):
                yield [dict(r) for r in batch]
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the store {store.url}: {exc}") from exc


def event_rows_in_log_order(store: LeadStore, size: int) -> Iterator[list[dict[str, Any]]]:
    """Every stored event as `lead_id`, `type`, `ts` (microseconds) and `properties`, in the order the log
    received them, `size` rows at a time: for readers (training from history) that hold no engine."""
    query = sa.select(events.c.lead_id, events.c.type, events.c.ts, events.c.properties).order_by(events.c.seq)
    return _streamed(store, query, size)


def lead_rows(store: LeadStore, size: int) -> Iterator[list[dict[str, Any]]]:
    """Every stored lead as `id` and `attributes`, `size` rows at a time."""
    return _streamed(store, sa.select(leads.c.id, leads.c.attributes), size)
