"""Generated data and the reference check: every stored result equals the pure scorer's."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from leadscore.domain.timeutil import to_micros
from leadscore.engine import Scorer
from leadscore.engine.timeline import Timeline
from leadscore.model import ScoringModel
from leadscore.store import LeadStore, open_store
from leadscore.store.codec import result_of
from leadscore.store.events_repo import load_timelines
from leadscore.store.tables import leads, outbox, results, score_history, stage_history

START = datetime(2026, 3, 1, tzinfo=UTC)
TYPES = ["page_view", "page_view", "page_view", "demo_request", "email_open"]
PATHS = ["/", "/blog", "/pricing", "/docs"]


def random_events(seed: int, n_leads: int, n_events: int, days: int = 90) -> list[Event]:
    rnd = random.Random(seed)
    out = []
    for i in range(n_events):
        lead = f"L{rnd.randrange(n_leads):04d}"
        when = START + timedelta(minutes=rnd.randrange(days * 24 * 60))
        typ = rnd.choice(TYPES)
        props = {"path": rnd.choice(PATHS)} if typ == "page_view" else {}
        event_id = f"e{seed}-{i}" if rnd.random() < 0.5 else None
        out.append(Event(lead, typ, when, props, event_id))
    return out


def random_leads(seed: int, n_leads: int) -> list[Lead]:
    rnd = random.Random(seed)
    return [
        Lead.of(f"L{i:04d}", employees=rnd.choice([5, 50, 150, 5000]), email=f"p{i}@{rnd.choice('abc')}.example")
        for i in range(n_leads)
    ]


def mismatches(store: LeadStore, model: ScoringModel) -> list[str]:
    """Leads whose stored result differs from a full recompute at the result's evaluation time."""
    scorer = Scorer(model)
    bad = []
    with store.read() as conn:
        rows = {r["lead_id"]: dict(r) for r in conn.execute(sa.select(results)).mappings()}
        attrs = {r.id: r.attributes for r in conn.execute(sa.select(leads.c.id, leads.c.attributes))}
        timelines = load_timelines(conn, list(attrs))
    for lead_id, attributes in attrs.items():
        row = rows.get(lead_id)
        if row is None:
            bad.append(f"{lead_id}: no result")
            continue
        stored = result_of(row)
        at = to_micros(stored.at)
        expected = scorer.score_timeline(Lead(lead_id, attributes), Timeline(timelines.get(lead_id, []), until=at), at)
        if stored.to_dict() != expected.to_dict():
            bad.append(f"{lead_id}: stored {stored.to_dict()} != {expected.to_dict()}")
    return bad


def written_rows(store: LeadStore) -> dict[str, list[dict[str, Any]]]:
    """Every row a rescoring writes (results, score and stage history, outbox), without the tables' own
    serial ids, in a stable order: two stores compare row by row."""
    out: dict[str, list[dict[str, Any]]] = {}
    with store.read() as conn:
        for table, order in (
            (results, [results.c.lead_id]),
            (score_history, [score_history.c.lead_id, score_history.c.id]),
            (stage_history, [stage_history.c.lead_id, stage_history.c.id]),
            (outbox, [outbox.c.idempotency_key]),
        ):
            rows = conn.execute(sa.select(table).order_by(*order)).mappings()
            out[table.name] = [{k: v for k, v in r.items() if k != "id"} for r in rows]
    return out


B2B = Path(__file__).resolve().parents[2] / "examples" / "b2b-saas"


def b2b_service(
    kind: str, tmp_path: Path, name: str, request: pytest.FixtureRequest, clock: list[datetime]
) -> LeadService:
    """A migrated store of `kind` in `tmp_path / name` under the b2b example's model, on `clock[0]`."""
    from tests.store.conftest import fresh_database_url

    folder = tmp_path / name
    folder.mkdir()
    store = open_store(fresh_database_url(kind, folder, request, migrated=True))
    service = LeadService(store, model_path=B2B / "model.yaml", clock=lambda: clock[0])
    service.upgrade()
    return service
