"""A big events file rescored in bulk once stored (`store.files`, `bulk.queued`) stores what the
per-batch path stores, row by row, on both stores; a crash between the two halves loses nothing and
a re-run completes it."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.bulk.queued import rescore_queued
from leadscore.domain import Event
from leadscore.model import parse_model
from leadscore.store import LeadStore, open_store
from leadscore.store.tables import events, pending_rescore, result_basis
from tests.store.conftest import MODEL, FixedClock, fresh_database_url
from tests.store.helpers import START, mismatches, random_events, random_leads, written_rows

pytest.importorskip("duckdb")

N_LEADS = 60


def _file(tmp_path: Path, seed: int) -> Path:
    """Page views and the like, with sales outcomes for some leads (stage moves, trigger firings)."""
    rnd = random.Random(seed)
    evs = random_events(seed, N_LEADS, 900)
    for i in range(0, N_LEADS, 4):
        when = START + timedelta(days=rnd.randrange(20, 80))
        evs.append(Event(f"L{i:04d}", rnd.choice(["sales_accepted", "deal_won", "sales_rejected"]), when, {}, None))
    path = tmp_path / f"events-{seed}.jsonl"
    path.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in evs), encoding="utf-8")
    return path


def _service(store: LeadStore, tmp_path: Path, clock: FixedClock) -> LeadService:
    model = tmp_path / "model.yaml"
    model.write_text(MODEL, encoding="utf-8")
    service = LeadService(store, model_path=model, clock=clock)
    service.upgrade()
    service.ingest_leads(random_leads(1, N_LEADS))
    # some leads scored before the file: their previous results and stages are what triggers compare with
    service.ingest_events(random_events(2, N_LEADS // 2, 150, days=30))
    return service


def _other_store(store: LeadStore, tmp_path: Path, request: pytest.FixtureRequest) -> LeadStore:
    where = tmp_path / "reference"
    where.mkdir()
    other = open_store(fresh_database_url(store.name, where, request, migrated=True))
    request.addfinalizer(other.dispose)
    return other


def _basis_and_queue(store: LeadStore) -> dict[str, Any]:
    with store.read() as conn:
        return {
            "basis": sorted(conn.execute(sa.select(result_basis.c.lead_id, result_basis.c.events_seen)).all()),
            "queued": conn.execute(sa.select(sa.func.count()).select_from(pending_rescore)).scalar_one(),
            "events": conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one(),
        }


def _spy(service: LeadService, calls: list[int]) -> Callable[[int], Any]:
    evaluator = service.current_evaluator()

    def bulk(at: int) -> Any:
        done = rescore_queued(service.store, evaluator, at)
        assert done is not None, "the bulk engine declined the model"
        calls.append(done.leads)
        return done

    return bulk


def test_big_file_in_bulk_stores_what_the_batches_store(
    store: LeadStore, tmp_path: Path, clock: FixedClock, request: pytest.FixtureRequest
) -> None:
    reference = _other_store(store, tmp_path, request)
    path = _file(tmp_path, 7)
    old = _service(reference, tmp_path, clock).ingest_events_file(path, bulk=None, batch_size=100_000)
    service = _service(store, tmp_path, clock)
    calls: list[int] = []
    new = service.ingest_events_file(path, bulk=_spy(service, calls), bulk_min=1, batch_size=300)
    assert calls, "the bulk path was not taken"
    assert (new.inserted, new.rescored, new.changed, new.triggers, new.pending) == (
        old.inserted,
        old.rescored,
        old.changed,
        old.triggers,
        0,
    )
    assert written_rows(store) == written_rows(reference)
    assert _basis_and_queue(store) == _basis_and_queue(reference)
    assert mismatches(store, parse_model(MODEL)) == []
    # a re-run stores nothing twice and rescores nothing
    again = service.ingest_events_file(path, bulk=_spy(service, calls), bulk_min=1, batch_size=300)
    assert again.inserted == 0
    assert written_rows(store) == written_rows(reference)


def test_a_crash_before_the_rescoring_keeps_the_events_queued_and_a_rerun_completes_it(
    store: LeadStore, tmp_path: Path, clock: FixedClock, request: pytest.FixtureRequest
) -> None:
    reference = _other_store(store, tmp_path, request)
    path = _file(tmp_path, 8)
    _service(reference, tmp_path, clock).ingest_events_file(path, bulk=None, batch_size=100_000)
    service = _service(store, tmp_path, clock)

    def dies(at: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        service.ingest_events_file(path, bulk=dies, bulk_min=1, batch_size=300)
    state = _basis_and_queue(store)
    assert state["events"] == _basis_and_queue(reference)["events"]  # every batch's events kept
    assert state["queued"] > 0  # their leads wait for rescoring: `lead()` says not current
    calls: list[int] = []
    again = service.ingest_events_file(path, bulk=_spy(service, calls), bulk_min=1, batch_size=300)
    assert again.inserted == 0 and calls
    assert _basis_and_queue(store) == _basis_and_queue(reference)
    assert written_rows(store)["results"] == written_rows(reference)["results"]
    assert written_rows(store)["outbox"] == written_rows(reference)["outbox"]
    assert mismatches(store, parse_model(MODEL)) == []


def test_a_small_file_keeps_the_per_batch_path(store: LeadStore, tmp_path: Path, clock: FixedClock) -> None:
    service = _service(store, tmp_path, clock)
    calls: list[int] = []
    report = service.ingest_events_file(_file(tmp_path, 9), bulk=_spy(service, calls), bulk_min=10_000)
    assert not calls and report.inserted > 0 and report.rescored > 0
    assert _basis_and_queue(store)["queued"] == 0
    assert mismatches(store, parse_model(MODEL)) == []


def test_leads_with_events_after_the_export_stay_queued(store: LeadStore, tmp_path: Path, clock: FixedClock) -> None:
    """Another writer's event that the export could not read: its lead is left (or put back) in the queue."""
    service = _service(store, tmp_path, clock)
    service.ingest_events(random_events(3, 4, 40), defer=True)
    from leadscore.bulk.settle import marks

    seen = marks(store)
    # after the marks: a deferred event (queued) and one rescored at once (its rescoring unqueued the lead)
    service.ingest_events([Event.of("L0001", "page_view", START, path="/x")], defer=True)
    service.ingest_events([Event.of("L0002", "page_view", START, path="/y")])
    from leadscore.bulk.queued import _settle

    at = int(clock().timestamp() * 1_000_000)
    store.transact(lambda conn: [conn.execute(stmt) for stmt in _settle(store, at, seen)])
    with store.read() as conn:
        queued = set(conn.execute(sa.select(pending_rescore.c.lead_id)).scalars())
    assert queued == {"L0001", "L0002"}


def test_the_last_settled_number_waits_for_an_event_in_flight(
    store: LeadStore, tmp_path: Path, clock: FixedClock
) -> None:
    """On PostgreSQL an event takes its number at insert and shows at commit: the number the export's
    check is measured against must not be read while a lower-numbered event is still in flight, or its
    lead is unqueued with a result that leaves it out."""
    if store.name != "postgres":
        pytest.skip("SQLite's writers take turns: the highest committed number is always settled")
    import threading

    from leadscore.bulk.queued import settled_last_seq

    _service(store, tmp_path, clock)  # leads L0000.. exist
    with store.engine.connect() as writer:
        tx = writer.begin()
        seq = writer.execute(
            sa.insert(events)
            .values(
                event_key="in-flight",
                lead_id="L0003",
                received_lead_id="L0003",
                type="page_view",
                ts=int(START.timestamp() * 1_000_000),
                properties={},
                ingested_at=0,
            )
            .returning(events.c.seq)
        ).scalar_one()
        got: list[int] = []
        reader = threading.Thread(target=lambda: got.append(settled_last_seq(store)))
        reader.start()
        reader.join(0.5)
        assert reader.is_alive() and not got, "read the last number while an event below it was in flight"
        tx.commit()
    reader.join(10)
    assert got and got[0] >= seq


def test_an_event_numbered_in_the_place_of_an_erased_one_stays_queued(
    store: LeadStore, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the export and the write another writer erases the lead holding the highest events
    and stores an event of a queued lead: on SQLite it takes the erased event's number, which the
    marks read before the export already counted. The lead must stay queued (its result leaves the
    event out), and the next drain scores it."""
    from tests.store.test_apply_race import _between_read_and_write

    service = _service(store, tmp_path, clock)
    service.ingest_events([Event.of("L0001", "page_view", "2026-01-05", id="q-1")], defer=True)
    service.ingest_events([Event.of("L0009", "page_view", "2026-01-06", id="q-9")], defer=True)  # the last
    other = LeadService(store, clock=FixedClock(clock()))

    def erase_then_event() -> None:
        other.erase("L0009")
        other.ingest_events([Event.of("L0001", "deal_won", "2026-01-07", id="late")], defer=True)

    finished = _between_read_and_write(monkeypatch, store, erase_then_event, lifecycle=True)
    done = rescore_queued(store, service.current_evaluator(), int(clock().timestamp() * 1_000_000))
    finished()
    assert done is not None
    assert not service.lead("L0001").current, "unqueued with a result that leaves out its last event"
    service.drain_pending()
    drained = service.result("L0001")
    assert drained is not None and service.lead("L0001").current
    with store.read() as conn:
        pure = service.current_evaluator().rescore(
            store, conn, ["L0001"], int(clock().timestamp() * 1_000_000), "check", write=False, keep=True
        )
    assert [(r.score, r.stage) for r in pure.results] == [(drained.score, drained.stage)]
    with store.read() as conn:
        kept = conn.execute(sa.select(events.c.event_key).where(events.c.lead_id == "L0001")).scalars().all()
    assert "late" in kept
