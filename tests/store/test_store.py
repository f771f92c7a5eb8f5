"""The storage suite: every test runs against SQLite and a real PostgreSQL (fixture `store`)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from leadscore.domain.timeutil import to_micros
from leadscore.engine import Scorer
from leadscore.engine.timeline import Timeline
from leadscore.io import DataFileError
from leadscore.store import LeadStore
from leadscore.store.ingest import FEW
from leadscore.store.tables import events, metadata, models, outbox, score_history
from leadscore.triggers.queue_order import sales_queue
from tests.store.conftest import MODEL, FixedClock
from tests.store.helpers import mismatches, random_events, random_leads


def count(store: LeadStore, table: sa.Table) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_stored_results_equal_the_pure_scorer(service: LeadService, store: LeadStore, clock: FixedClock) -> None:
    evs = random_events(1, 40, 600)
    service.ingest_leads(random_leads(1, 30))
    for start in range(0, len(evs), 150):
        service.ingest_events(evs[start : start + 150])
        clock.advance(days=3)
    assert mismatches(store, service.model) == []
    clock.advance(days=20)
    service.refresh()
    assert mismatches(store, service.model) == []
    # the whole log, scored at once by the reference, gives the same results as the batches did
    scorer = Scorer(service.model)
    at = to_micros(clock.now)
    for lead in random_leads(1, 30)[:5]:
        own = [e for e in evs if e.lead_id == lead.id]
        assert service.result(lead.id).to_dict() == scorer.score_timeline(lead, Timeline(own, until=at), at).to_dict()


def test_reingesting_changes_nothing(service: LeadService, store: LeadStore, clock: FixedClock) -> None:
    evs = random_events(2, 10, 200)
    first = service.ingest_events(evs)
    assert first.inserted == len({e.id or (e.lead_id, e.type, e.ts, json.dumps(dict(e.properties))) for e in evs})
    before = {t.name: count(store, t) for t in (events, score_history, outbox)}
    clock.advance(hours=1)
    again = service.ingest_events(evs)
    assert again.inserted == 0 and again.rescored == 0
    assert {t.name: count(store, t) for t in (events, score_history, outbox)} == before


def test_strict_ingest_refuses_the_whole_file(service: LeadService, store: LeadStore, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "lead_id,type,timestamp,stage\n"
        "a,page_view,2026-05-01T00:00:00Z,\n"
        "b,page_view,2026-13-01,\n"
        "c,stage_set,2026-05-01T00:00:00Z,nowhere\n",
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as exc:
        service.ingest_events_file(path)
    text = str(exc.value)
    assert "events.csv:3:timestamp" in text and "events.csv:4:stage" in text
    assert count(store, events) == 0


def test_skip_invalid_keeps_good_rows_and_writes_rejects(
    service: LeadService, store: LeadStore, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "lead_id,type,timestamp\na,page_view,2026-05-01T00:00:00Z\n,page_view,2026-05-01T00:00:00Z\n"
        "c,page_view,2026-05-02T00:00:00Z\n",
        encoding="utf-8",
    )
    report = service.ingest_events_file(path, skip_invalid=True, rejects=tmp_path / "bad.csv")
    assert report.inserted == 2 and report.rejected == 1
    rejects = (tmp_path / "bad.csv").read_text(encoding="utf-8")
    assert "events.csv:3:lead_id" in rejects
    assert count(store, events) == 2


def test_attribute_changes_are_history_and_rescore_fit(service: LeadService) -> None:
    service.ingest_leads([Lead.of("a", employees=10)])
    assert service.result("a").dimensions["fit"] == 0
    service.ingest_leads([Lead.of("a", employees=500)])
    assert service.result("a").dimensions["fit"] == 30
    exported = service.export("a")
    assert [h.changes for h in exported.attribute_history] == [
        {"employees": [None, 10]},
        {"employees": [10, 500]},
    ]


def test_refresh_applies_time_and_touches_only_due_leads(
    service: LeadService, store: LeadStore, clock: FixedClock
) -> None:
    service.ingest_events([Event.of("a", "page_view", "2026-05-31", path="/pricing")])
    service.ingest_leads([Lead.of("b", employees=500)])  # no events: its result can only change by the quiet rule
    before = service.result("a").score
    clock.advance(days=10)
    done = service.refresh()
    assert done.leads >= 1
    assert service.result("a").score < before  # decay and the window moved on
    assert mismatches(store, service.model) == []
    assert service.refresh().leads == 0  # nothing can have changed since


def test_triggers_fire_once_per_transition(service: LeadService, store: LeadStore, clock: FixedClock) -> None:
    hot = [Event.of("a", "demo_request", "2026-05-31"), Event.of("a", "page_view", "2026-05-31T01:00", path="/pricing")]
    service.ingest_leads([Lead.of("a", employees=500)])
    service.ingest_events(hot)
    firings = {m["trigger"] for m in service.outbox().messages()}
    assert firings == {"to-mql", "hot"}
    clock.advance(hours=2)
    service.ingest_events(hot)
    service.refresh()
    assert count(store, outbox) == 2


def test_queue_is_in_sales_queue_order(service: LeadService) -> None:
    service.ingest_leads(random_leads(3, 25))
    service.ingest_events(random_events(3, 25, 300, days=20))
    queue = service.queue()
    assert [r.lead_id for r in queue] == [r.lead_id for r in sales_queue(queue)]
    assert len(queue) == 25


def test_identify_moves_anonymous_events_to_the_lead(service: LeadService, store: LeadStore) -> None:
    service.ingest_leads([Lead.of("a", employees=500)])
    service.ingest_events([Event.of("anon-1", "page_view", "2026-05-30", path="/pricing")])
    service.ingest_events([Event.of("a", "identify", "2026-05-30T01:00", anonymous_id="anon-1")])
    service.ingest_events([Event.of("anon-1", "demo_request", "2026-05-31")])
    assert service.result("anon-1") is None
    with store.read() as conn:
        owners = set(conn.execute(sa.select(events.c.lead_id)).scalars())
    assert owners == {"a"}
    assert {b.rule for b in service.result("a").breakdown} >= {"pricing", "demo"}
    assert mismatches(store, service.model) == []


def test_merge_keeps_both_histories_and_adds_up(service: LeadService, store: LeadStore) -> None:
    service.ingest_events([Event.of("a", "page_view", "2026-05-30"), Event.of("b", "demo_request", "2026-05-30")])
    service.merge("a", "b")
    history = service.score_history("a")
    assert math.isclose(sum(h.delta for h in history), service.result("a").score)
    assert any(h.cause == "event" for h in history) and service.result("b") is None
    service.ingest_events([Event.of("b", "page_view", "2026-05-31")])  # later events under b go to a
    assert service.result("b") is None
    assert mismatches(store, service.model) == []


def test_history_adds_up_and_names_version_and_cause(service: LeadService, clock: FixedClock) -> None:
    service.ingest_leads([Lead.of("a", employees=500)])
    for day in range(5):
        service.ingest_events([Event.of("a", "page_view", f"2026-05-2{day}", path="/pricing")])
        clock.advance(days=2)
        service.refresh()
    history = service.score_history("a")
    assert math.isclose(sum(h.delta for h in history), service.result("a").score)
    assert {h.cause for h in history} >= {"attributes", "event", "refresh"}
    assert all(h.model_version == service.evaluator.version for h in history)


def test_model_plan_writes_nothing_and_apply_rescores(service: LeadService, store: LeadStore, tmp_path: Path) -> None:
    service.ingest_leads(random_leads(4, 20))
    service.ingest_events(random_events(4, 20, 200, days=20))
    old_version = service.evaluator.version
    new = tmp_path / "new.yaml"
    new.write_text(MODEL.replace("name: test-b2b", "name: test-b2b").replace("points: 30}", "points: 70}"))
    before = count(store, score_history)
    plan = service.plan_model(new)
    assert plan.leads == 20 and plan.score_changed > 0 and plan.movers
    assert count(store, score_history) == before
    applied = service.apply_model(new)
    assert applied.previous == old_version and applied.rescored.leads == 20
    assert service.evaluator.version == applied.version != old_version
    with store.read() as conn:
        assert set(conn.execute(sa.select(models.c.version)).scalars()) == {old_version, applied.version}
    mover = plan.movers[0]["lead_id"]
    assert service.score_history(mover)[-1].cause == f"model:{applied.version}"
    assert mismatches(store, service.model) == []


def test_erase_removes_everything_and_export_holds_everything(service: LeadService, store: LeadStore) -> None:
    service.ingest_leads([Lead.of("a", employees=500), Lead.of("b", employees=5)])
    service.ingest_events([Event.of("a", "demo_request", "2026-05-30"), Event.of("b", "page_view", "2026-05-30")])
    data = service.export("a")
    assert data.lead.attributes == {"employees": 500}
    assert len(data.events) == 1 and data.score_history and data.result and data.result["lead_id"] == "a"
    service.erase("a")
    with store.read() as conn:
        for table in metadata.sorted_tables:
            column = table.c.get("lead_id") if "lead_id" in table.c else None
            if table.name == "leads":
                column = table.c.id
            if column is not None:
                hits = conn.execute(sa.select(sa.func.count()).select_from(table).where(column == "a")).scalar_one()
                assert hits == 0, table.name
    assert service.result("b") is not None


def test_accounts_roll_up_as_the_model_says(service: LeadService) -> None:
    service.ingest_leads(
        [Lead.of("a", employees=500, email="x@acme.com"), Lead.of("b", employees=5, account="acme.com")]
    )
    service.ingest_events([Event.of("a", "page_view", "2026-05-30"), Event.of("b", "page_view", "2026-05-30")])
    (acme,) = service.accounts()
    a, b = service.result("a"), service.result("b")
    assert acme.leads == 2
    assert acme.dimensions["fit"] == max(a.dimensions["fit"], b.dimensions["fit"])  # rollup: max
    assert acme.dimensions["engagement"] == a.dimensions["engagement"] + b.dimensions["engagement"]  # default sum


def test_manual_stage_and_outcomes_are_events(service: LeadService) -> None:
    service.ingest_leads([Lead.of("a", employees=5)])
    assert service.set_stage("a", "mql").stage == "mql"
    assert service.record_outcome("a", "accepted").stage == "sql"
    causes = [s.cause for s in service.explain("a").stage_history]
    assert causes[-2:] == ["manual", "event:sales_accepted"]


def test_store_refuses_unmigrated_database(blank_url: str, model_file: Path) -> None:
    from leadscore.app.service import ServiceError
    from leadscore.store import open_store

    raw = open_store(blank_url)
    try:
        with pytest.raises(ServiceError, match="db upgrade"):
            LeadService(raw, model_path=model_file).ingest_events([Event.of("a", "x", "2026-01-01")])
    finally:
        raw.dispose()


def test_time_values_are_stored_as_iso_text_and_rescore_alike(service: LeadService, store: LeadStore) -> None:
    from datetime import UTC, datetime

    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    service.ingest_leads([Lead.of("a", employees=500, created_at=when)])  # e.g. a Parquet timestamp column
    again = Event.of("a", "page_view", "2026-05-30", path="/pricing", seen=when)
    service.ingest_events([again])
    assert service.export("a").lead.attributes["created_at"] == "2025-01-02T03:04:05Z"
    assert service.export("a").events[0].properties["seen"] == "2025-01-02T03:04:05Z"
    assert service.ingest_events([again]).inserted == 0  # the same event, whatever form its time took
    assert mismatches(store, service.model) == []


def test_a_lead_split_over_batches_scores_from_its_whole_log(
    make_service: Callable[..., LeadService], store: LeadStore
) -> None:
    service = make_service(batch_size=7)  # most leads' events straddle batches; some sit in one
    evs = sorted(random_events(5, 6, 90), key=lambda e: e.lead_id)
    service.ingest_events(evs)
    assert mismatches(store, service.model) == []
    scorer = Scorer(service.model)
    at = to_micros(service.clock())
    for lead_id in {e.lead_id for e in evs}:
        own = [e for e in evs if e.lead_id == lead_id]
        expected = scorer.score_timeline(Lead(lead_id, {}), Timeline(own, until=at), at)
        assert service.result(lead_id).to_dict() == expected.to_dict()


@pytest.mark.slow
def test_scoring_processes_store_the_same_results(
    make_service: Callable[..., LeadService],
    store: LeadStore,
    clock: FixedClock,
    model_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from leadscore.store import open_store, pipeline

    monkeypatch.setattr(pipeline, "MIN_PARALLEL_LEADS", 5)  # small data, yet through the worker processes
    start = clock.now

    def run(service: LeadService) -> set[tuple[str, str]]:
        clock.now = start
        service.ingest_leads(random_leads(6, 30))
        service.ingest_events(random_events(6, 30, 400))
        clock.advance(days=10)
        service.refresh()
        return {(m["id"], m["lead_id"]) for m in service.outbox().messages(limit=1000)}

    parallel = make_service(workers=2)
    try:
        fired = run(parallel)
        assert parallel.evaluator._pool is not None
        assert mismatches(store, parallel.model) == []
    finally:
        parallel.close()
    other = open_store(f"sqlite:///{tmp_path / 'serial.db'}")
    other.upgrade()
    try:
        assert fired and fired == run(LeadService(other, model_path=model_file, clock=clock))
    finally:
        other.dispose()


@pytest.mark.parametrize("leads_per_batch", [1, FEW, FEW + 1])
def test_batches_of_few_or_many_leads_equal_the_pure_scorer(
    service: LeadService, store: LeadStore, clock: FixedClock, leads_per_batch: int
) -> None:
    """Up to FEW leads a batch reads its timelines back; more, and it sorts new leads' events out in
    memory: both give the pure scorer's result, for new leads and for leads with a stored log."""
    evs = random_events(7, 40, 400)
    by_lead: dict[str, list[Event]] = {}
    for e in evs:
        by_lead.setdefault(e.lead_id, []).append(e)
    ids = sorted(by_lead)
    for round_ in range(2):  # first round: new leads; second: leads whose logs are stored
        for start in range(0, len(ids), leads_per_batch):
            group = ids[start : start + leads_per_batch]
            service.ingest_events([e for lead in group for e in by_lead[lead][round_::2]])
        clock.advance(hours=5)
    assert mismatches(store, service.model) == []
