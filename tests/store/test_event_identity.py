"""Event ids are per lead (MODEL-FORMAT.md, Events): the store agrees with the pure scorer.

The same `id` on two leads is two events; on one lead, one event. A merge or an identify keeps
every event each side held, even when both hold the same id, and a re-run of the same input stores
nothing twice. Every stored result is checked against the pure scorer fed with the input events
(not with the store's own reading of them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from leadscore.domain.timeutil import to_micros
from leadscore.engine import Scorer
from leadscore.engine.timeline import Timeline
from leadscore.io import read_events
from leadscore.store import LeadStore
from leadscore.store.tables import events
from tests.store.conftest import FixedClock
from tests.store.helpers import mismatches


def _stored(store: LeadStore) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())


def _pure(service: LeadService, lead: Lead, own: list[Event], clock: FixedClock) -> float:
    at = to_micros(clock.now)
    return Scorer(service.model).score_timeline(lead, Timeline(own, until=at), at).score


def test_the_same_id_on_two_leads_is_two_events(service: LeadService, store: LeadStore, clock: FixedClock) -> None:
    demo_a = Event.of("a", "demo_request", "2026-05-30", id="1")
    demo_b = Event.of("b", "demo_request", "2026-05-30", id="1")
    visit_b = Event.of("b", "page_view", "2026-05-30", id="2", path="/pricing")
    first = service.ingest_events([demo_a, demo_b, visit_b])
    assert first.inserted == 3 and _stored(store) == 3
    assert service.result("b").score == _pure(service, Lead("b", {}), [demo_b, visit_b], clock)
    assert {r.rule for r in service.result("b").breakdown} >= {"demo", "pricing"}
    # the same id again on the same lead is the same event, in the same batch or a later one
    again = service.ingest_events([demo_a, demo_b, Event.of("b", "demo_request", "2026-05-31", id="1")])
    assert again.inserted == 0 and _stored(store) == 3
    assert mismatches(store, service.model) == []


def test_file_ingest_with_ids_reused_across_leads(
    service: LeadService, store: LeadStore, tmp_path: Path, clock: FixedClock
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "id,lead_id,type,timestamp\n"
        "1,b-001,demo_request,2026-05-20T10:00:00Z\n"
        "1,b-002,demo_request,2026-05-20T10:00:00Z\n"
        "2,b-002,page_view,2026-05-21T10:00:00Z\n"
    )
    report = service.ingest_events_file(path)
    assert (report.rows, report.inserted) == (3, 3)
    given = read_events(path)
    for lead in ("b-001", "b-002"):
        own = [e for e in given if e.lead_id == lead]
        assert service.result(lead).score == _pure(service, Lead(lead, {}), own, clock)
    assert service.ingest_events_file(path).inserted == 0


def test_merge_keeps_both_events_with_the_same_id(service: LeadService, store: LeadStore, clock: FixedClock) -> None:
    a1 = Event.of("a", "page_view", "2026-05-30", id="1", path="/blog")
    b1 = Event.of("b", "page_view", "2026-05-30", id="1", path="/docs")
    service.ingest_events([a1, b1])
    service.merge("a", "b")
    assert _stored(store) == 2
    # both visits count for the merged person: two events, not one
    visit = next(e for e in service.result("a").breakdown if e.rule == "visit")
    assert visit.points == 10
    assert mismatches(store, service.model) == []
    # re-ingesting either lead's original event stores nothing: it is already held, under `a`
    assert service.ingest_events([a1, b1]).inserted == 0 and _stored(store) == 2
    assert service.export("a").model_dump(mode="json")["events"][1]["received_lead_id"] in {"a", "b"}


def test_identify_keeps_anonymous_events_whose_id_the_lead_also_has(
    service: LeadService, store: LeadStore, clock: FixedClock
) -> None:
    service.ingest_events([Event.of("a", "page_view", "2026-05-29", id="v1", path="/")])
    service.ingest_events([Event.of("anon-1", "page_view", "2026-05-30", id="v1", path="/")])
    service.ingest_events([Event.of("a", "identify", "2026-05-30T01:00", id="i1", anonymous_id="anon-1")])
    # later events under the anonymous id go to the lead; their ids stay scoped to the anonymous id
    late = Event.of("anon-1", "page_view", "2026-05-31", id="v1", path="/pricing")
    assert service.ingest_events([late]).inserted == 0  # anon-1 already sent v1
    service.ingest_events([Event.of("anon-1", "page_view", "2026-05-31", id="v2", path="/pricing")])
    assert _stored(store) == 4
    visit = next(e for e in service.result("a").breakdown if e.rule == "visit")
    assert visit.points == 15
    assert mismatches(store, service.model) == []


def test_bulk_scoring_reads_merged_ids_as_the_pure_scorer_does(service: LeadService, store: LeadStore) -> None:
    """The batch engine (DuckDB on SQLite, in-database on PostgreSQL) reads a merged lead's events,
    two of them with the same id, as the pure scorer does."""
    from leadscore.app.maintenance import all_lead_batches, score_all
    from leadscore.bulk.rescore import score_store
    from leadscore.model import parse_model
    from leadscore.store.pipeline import Evaluator
    from tests.batch.compare import differences
    from tests.bulk.test_rescore import PLAN_MODEL

    service.ingest_leads([Lead.of("a", employees=500), Lead.of("b", employees=500)])
    service.ingest_events(
        [
            Event.of("a", "demo_request", "2026-05-20", id="1"),
            Event.of("b", "page_view", "2026-05-21", id="1", path="/pricing"),
            Event.of("b", "page_view", "2026-05-22", id="2", path="/pricing"),
            Event.of("b", "email_open", "2026-05-25", id="3"),
            Event.of("c", "email_open", "2026-05-25", id="3"),
        ]
    )
    service.merge("a", "b")
    evaluator = Evaluator(parse_model(PLAN_MODEL))
    at = service.now_us()
    assert score_store(store, evaluator, at) is not None
    got = {r.lead_id: r.to_dict() for done in score_all(store, evaluator, at) for r in done.results}
    expected: dict[str, Any] = {}
    histories: dict[str, Any] = {}
    for ids in all_lead_batches(store, 16):
        with store.read() as conn:
            for r in evaluator.rescore(store, conn, ids, at, "plan", write=False, keep=True).results:
                expected[r.lead_id] = r.to_dict()
                histories[r.lead_id] = r.to_dict(history=True)["stage_history"]
    diff = differences(list(expected.values()), list(got.values()))
    assert not diff, "\n".join(diff)
    assert got["a"]["stage"] == "recycled"  # by b's email_open, which only the merge brought to a
    causes = [s["event_id"] for s in histories["a"]]
    assert "b/3" in causes  # the merged lead's email_open, named by the lead it arrived under


def test_every_engine_agrees_on_the_example_with_ids_reused_across_leads(
    make_service: Any, store: LeadStore, tmp_path: Path, clock: FixedClock
) -> None:
    """The b2b example with its event ids numbered per lead (every id repeats across leads, and a few
    repeat within a lead): the store, `score` (the pure scorer) and the batch engine agree."""
    import csv

    from leadscore.app.maintenance import all_lead_batches
    from leadscore.batch import run_batch
    from leadscore.io import read_leads
    from leadscore.model import load_model
    from tests.batch.compare import differences
    from tests.conftest import EXAMPLES

    source = EXAMPLES / "b2b-saas" / "data"
    rows = list(csv.DictReader((source / "events.csv").open(encoding="utf-8")))
    per_lead: dict[str, int] = {}
    for row in rows:
        per_lead[row["lead_id"]] = per_lead.get(row["lead_id"], 0) + 1
        row["id"] = str(per_lead[row["lead_id"]] // 2 + 1)  # 1, 2, 2, 3, 3, ...: repeats within a lead too
    path = tmp_path / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    model_path = EXAMPLES / "b2b-saas" / "model.yaml"
    service = make_service()
    service.apply_model(model_path, quiet=True)
    service.ingest_leads_file(source / "leads.csv")
    service.ingest_events_file(path)
    at = to_micros(clock.now)
    model = load_model(model_path)
    scorer = Scorer(model)
    given = read_events(path)
    expected = []
    for lead in read_leads(source / "leads.csv"):
        own = [e for e in given if e.lead_id == lead.id]
        expected.append(scorer.score_timeline(lead, Timeline(own, until=at), at).to_dict())
    stored = [service.result(r["lead_id"]).to_dict() for r in expected]
    assert not differences(expected, stored)
    batched = run_batch(model, source / "leads.csv", path, clock.now).to_dicts()
    assert not differences(expected, batched)
    assert len(next(iter(all_lead_batches(store, 100)))) == len(expected)
