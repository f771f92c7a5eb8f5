"""Ids of the longest length the readers accept (255 characters) go through the store on both
backends: a lead that long becomes an MQL of the b2b example, its trigger message is queued with a
key of fixed length, and the causes and aliases that quote such ids keep them whole."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from leadscore.engine import score
from leadscore.io import read_events, read_leads
from leadscore.io.limits import MAX_ID_CHARS
from leadscore.model.loader import load_model
from leadscore.store import LeadStore
from leadscore.store.tables import aliases, models, outbox, stage_history

B2B = Path(__file__).resolve().parents[2] / "examples" / "b2b-saas"
NOW = datetime(2026, 7, 1, tzinfo=UTC)


def _b2b(store: LeadStore) -> LeadService:
    return LeadService(store, model_path=B2B / "model.yaml", clock=lambda: NOW)


def _an_mql() -> tuple[Lead, list[Event]]:
    """A lead of the example (and its events) that the model makes an MQL."""
    model = load_model(B2B / "model.yaml")
    leads = {lead.id: lead for lead in read_leads(B2B / "data" / "leads.csv")}
    events = list(read_events(B2B / "data" / "events.csv"))
    for lead_id in sorted(leads):
        mine = [e for e in events if e.lead_id == lead_id]
        if any(e.type in ("sales_accepted", "sales_rejected", "deal_won", "deal_lost", "email_bounce") for e in mine):
            continue  # only a lead whose stage comes from its score
        if score(model, leads[lead_id], mine, NOW).stage == "mql":
            return leads[lead_id], mine
    raise AssertionError("the example has no MQL lead")


def test_a_longest_lead_id_becomes_an_mql_and_its_trigger_message_is_queued(store: LeadStore) -> None:
    service = _b2b(store)
    lead, events = _an_mql()
    long_id = "L" * MAX_ID_CHARS
    service.ingest_leads([dataclasses.replace(lead, id=long_id)])
    service.ingest_events([dataclasses.replace(e, lead_id=long_id) for e in events])

    assert service.result(long_id).stage == "mql"  # type: ignore[union-attr]
    with store.read() as conn:
        rows = conn.execute(sa.select(outbox.c.trigger_id, outbox.c.lead_id, outbox.c.idempotency_key)).all()
    assert [(r.trigger_id, r.lead_id) for r in rows] == [("mql-to-crm", long_id)]
    assert len(rows[0].idempotency_key) <= 64  # a digest: it never grows with the ids it stands for


def test_a_longest_anonymous_id_identified_and_merged_keeps_its_ids_whole(store: LeadStore) -> None:
    service = _b2b(store)
    anon, person, other = "A" * MAX_ID_CHARS, "P" * MAX_ID_CHARS, "O" * MAX_ID_CHARS
    service.ingest_leads([Lead.of(person), Lead.of(other)])
    service.ingest_events(
        [
            Event.of(anon, "page_view", "2026-06-30T10:00:00Z", id="v1", path="/pricing"),
            Event.of(person, "identify", "2026-06-30T11:00:00Z", id="i" * MAX_ID_CHARS, anonymous_id=anon),
        ]
    )
    service.merge(person, other)
    with store.read() as conn:
        linked = {r.alias: (r.lead_id, r.cause) for r in conn.execute(sa.select(aliases))}
    assert linked[anon][0] == person and linked[other][0] == person
    assert linked[anon][1].endswith("i" * MAX_ID_CHARS) and linked[other][1].endswith(other)


LONG = 300
LONG_NAMES_MODEL = f"""
format: 1
name: {"m" * LONG}
rules:
  - {{id: demo, on: demo_request, points: 50}}
lifecycle:
  stages: [lead, {"s" * LONG}]
  transitions:
    - {{to: {"s" * LONG}, when: {{score: total, gte: 50}}}}
triggers:
  - {{id: {"t" * LONG}, on: stage_changed, to: {"s" * LONG}, destination: {"d" * LONG}}}
"""


def test_a_model_with_long_names_is_stored_whole(store: LeadStore, tmp_path: Path) -> None:
    """Stage names, trigger ids, destinations and the model's name have no length limit in a model:
    the store keeps them whole on both backends (PostgreSQL refused more than 255 characters)."""
    path = tmp_path / "long.yaml"
    path.write_text(LONG_NAMES_MODEL, encoding="utf-8")
    service = LeadService(store, model_path=path, clock=lambda: NOW)
    service.ingest_leads([Lead.of("a")])
    service.ingest_events([Event.of("a", "demo_request", "2026-06-30T10:00:00Z", id="d1")])
    assert service.result("a").stage == "s" * LONG  # type: ignore[union-attr]
    with store.read() as conn:
        (row,) = conn.execute(sa.select(outbox.c.trigger_id, outbox.c.destination)).all()
        changes = conn.execute(sa.select(stage_history.c.to_stage)).scalars().all()
        names = conn.execute(sa.select(models.c.name)).scalars().all()
    assert (row.trigger_id, row.destination) == ("t" * LONG, "d" * LONG)
    assert "s" * LONG in changes and names == ["m" * LONG]
