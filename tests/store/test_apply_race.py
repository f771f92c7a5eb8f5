"""`model apply` and `refresh` with events arriving while they run.

The bulk paths read every lead's events first and write the results later, in a transaction of
their own. An event stored and scored in between (the real-time path, under the model still active)
must not be lost: once the apply commits, every lead carries the new model's result over all its
stored events, whatever the clocks of the two writers say. The event is stored from inside the
apply, between its read and its write, so the interleaving is the one that happens under load."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from leadscore.store import LeadStore
from tests.store.conftest import FixedClock

MODEL_A = """
format: 1
name: shop
dimensions: {engagement: {cap: 400}}
rules:
  - {id: visit, dimension: engagement, on: visit, points: 15}
  - {id: demo, dimension: engagement, on: demo, points: 50}
"""
LIFECYCLE = """
lifecycle:
  stages: [lead, mql]
  initial: lead
  transitions:
    - {to: mql, when: {score: total, gte: 60}}
"""
MODEL_B = MODEL_A.replace("points: 15", "points: 16")
PATHS = ["rules", "rules-parts", "adbc", "lifecycle", "parts"]
START = datetime(2026, 6, 1, tzinfo=UTC)


def _service(store: LeadStore, tmp_path: Path, lifecycle: bool) -> LeadService:
    path = tmp_path / "a.yaml"
    path.write_text(MODEL_A + (LIFECYCLE if lifecycle else ""), encoding="utf-8")
    service = LeadService(store, model_path=path, clock=FixedClock(START))
    leads = [Lead(f"L{i:03d}") for i in range(30)]
    service.ingest_leads(leads)
    service.ingest_events([Event.of(lead.id, "visit", "2026-05-01", id=f"v-{lead.id}") for lead in leads])
    return service


def _path(store: LeadStore, path: str, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Set the apply's path up; whether its model has a lifecycle."""
    if path == "adbc":  # SQLite's writer program, in a transaction of its own
        if store.name == "postgres":
            pytest.skip("the ADBC writer serves SQLite stores")
        monkeypatch.setattr("leadscore.bulk.write.ADBC_MIN_ROWS", 1)
    if path == "parts":  # parts of 7 leads: the late lead is in the first
        monkeypatch.setattr("leadscore.bulk.writeback.PART_LEADS", 7)
    if path == "rules-parts":  # the in-database apply's leads in parts, scored on connections of their own
        if store.name != "postgres":
            pytest.skip("the in-database apply serves PostgreSQL stores")
        monkeypatch.setattr("leadscore.bulk.in_database.PARTS_MIN_LEADS", 0)
    return path in ("lifecycle", "parts")


def _between_read_and_write(
    monkeypatch: pytest.MonkeyPatch, store: LeadStore, act: Callable[[], None], lifecycle: bool
) -> Callable[[], None]:
    """Run `act` once, after the apply read the leads' events and before it writes, in a thread of its
    own (another process's writer): it has 5 s to finish before the apply goes on. On SQLite, where
    a lifecycle apply in parts holds the write lock while it reads, the writer waits for the commit."""
    started: list[threading.Thread] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            act()
        except BaseException as exc:  # reported by `finished`
            errors.append(exc)

    def once() -> None:
        if not started:
            started.append(threading.Thread(target=run))
            started[0].start()
            started[0].join(5.0)

    def finished() -> None:
        assert started, "the apply never reached the point between its read and its write"
        started[0].join(60.0)
        assert not started[0].is_alive() and not errors, errors

    if store.name == "postgres" and not lifecycle:  # in the database (a lifecycle goes through DuckDB)
        import leadscore.bulk.in_database as target

        for name in ("write_statement", "part_statements"):  # one statement, or the leads in parts
            original_db: Any = getattr(target, name)

            def wrapped_db(*args: Any, _original: Any = original_db, **kwargs: Any) -> Any:
                once()  # the apply's time is taken; its statements have not read the leads yet
                return _original(*args, **kwargs)

            monkeypatch.setattr(target, name, wrapped_db)
        return finished
    import leadscore.bulk.writeback as writeback

    original: Any = writeback._run

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        run = original(*args, **kwargs)
        once()
        return run

    monkeypatch.setattr(writeback, "_run", wrapped)
    # in parts, the process preparing them reads each part (`lifecycle_ahead`): the point is when this
    # one has its part, read there, and has not written it yet
    from leadscore.bulk.lifecycle_ahead import Ahead

    receive: Any = Ahead.receive

    def received(self: Ahead, part: int, *handed_over: Any) -> Any:
        prepared = receive(self, part, *handed_over)
        once()
        return prepared

    monkeypatch.setattr(Ahead, "receive", received)
    return finished


def _apply_beside(
    monkeypatch: pytest.MonkeyPatch, service: LeadService, tmp_path: Path, act: Callable[[], None], lifecycle: bool
) -> str:
    """Apply model B with `act` run between the apply's read and its write; the version applied."""
    finished = _between_read_and_write(monkeypatch, service.store, act, lifecycle)
    model = tmp_path / "b.yaml"
    model.write_text(MODEL_B + (LIFECYCLE if lifecycle else ""), encoding="utf-8")
    applied = service.apply_model(model)
    finished()
    return applied.version


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("skew", [-1.0, 60.0], ids=["writer-clock-behind", "writer-clock-ahead"])
def test_an_event_scored_while_a_model_is_applied_is_not_lost(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, skew: float, path: str
) -> None:
    lifecycle = _path(store, path, monkeypatch)
    service = _service(store, tmp_path, lifecycle)
    other = LeadService(store, clock=FixedClock(START + timedelta(seconds=skew)))

    def realtime() -> None:  # a second process: its own service, the old model still active
        other.ingest_events([Event.of("L003", "demo", "2026-05-20", id="late-demo")])

    version = _apply_beside(monkeypatch, service, tmp_path, realtime, lifecycle)
    result = service.result("L003")
    assert result is not None
    assert result.model_version == version
    assert result.score == 66.0  # 16 for the visit under the new model, 50 for the demo
    assert result.stage == ("mql" if lifecycle else None)
    assert service.lead("L003").current
    assert service.result("L008").score == 16.0  # type: ignore[union-attr]
    assert {service.result(f"L{i:03d}").model_version for i in range(30)} == {version}  # type: ignore[union-attr]


@pytest.mark.parametrize("path", PATHS)
def test_a_lead_erased_while_a_model_is_applied_leaves_no_row(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """The apply read the lead; its write must not bring back a result, history or outbox row of a
    person erased meanwhile."""
    lifecycle = _path(store, path, monkeypatch)
    service = _service(store, tmp_path, lifecycle)
    other = LeadService(store, clock=FixedClock(START))
    _apply_beside(monkeypatch, service, tmp_path, lambda: other.erase("L003"), lifecycle)
    with store.read() as conn:
        for table in ("results", "score_history", "stage_history", "outbox", "result_basis", "pending_rescore"):
            left = conn.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE lead_id = 'L003'").scalar_one()
            assert left == 0, table
    assert service.result("L004").score == 16.0  # type: ignore[union-attr]


@pytest.mark.parametrize("skew", [-1.0, 60.0], ids=["writer-clock-behind", "writer-clock-ahead"])
def test_an_event_scored_while_a_bulk_refresh_runs_is_not_lost(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, skew: float
) -> None:
    from leadscore.app.maintenance import refresh

    service = _service(store, tmp_path, lifecycle=True)
    service.clock.advance(days=1)  # type: ignore[attr-defined]
    other = LeadService(store, clock=FixedClock(service.clock() + timedelta(seconds=skew)))
    finished = _between_read_and_write(
        monkeypatch,
        store,
        lambda: other.ingest_events([Event.of("L003", "demo", "2026-05-20", id="late-demo")]),
        lifecycle=True,
    )
    with store.write() as conn:  # every lead due
        conn.exec_driver_sql("UPDATE results SET next_change_at = 0")
    refresh(store, service.current_evaluator(), service.now_us, bulk_min=1)
    finished()
    result = service.result("L003")
    assert result is not None and result.score == 65.0 and result.stage == "mql"
    assert service.lead("L003").current


def test_a_lead_created_while_a_model_is_applied_by_the_pure_scorer_gets_the_new_model(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pure path walks the leads in id order, batch by batch, in one transaction. A lead another
    writer creates meanwhile with an id below the walk's position (scored by that writer under the
    model still active) is never visited: it must still carry the new model's result after the
    apply, as every lead does. On SQLite the writer waits for the apply's commit (the apply holds
    the write lock); on PostgreSQL it commits while the apply runs."""
    import leadscore.app.maintenance as maintenance
    from leadscore.store.pipeline import Evaluator

    service = _service(store, tmp_path, lifecycle=False)
    other = LeadService(store, clock=FixedClock(START))
    monkeypatch.setattr(maintenance, "_bulk", lambda *args, **kwargs: None)  # the pure path
    original = maintenance.apply
    monkeypatch.setattr(maintenance, "apply", lambda *a, **k: original(*a, **{**k, "batch_size": 10}))

    def realtime() -> None:
        other.ingest_leads([Lead("L000a")])
        other.ingest_events([Event.of("L000a", "demo", "2026-05-20", id="new-demo")])

    rescore: Any = Evaluator.rescore
    started: list[threading.Thread] = []

    def after_first_batch(self: Evaluator, *args: Any, **kwargs: Any) -> Any:
        done = rescore(self, *args, **kwargs)
        if not started:  # the walk is past L009
            started.append(threading.Thread(target=realtime))
            started[0].start()
            started[0].join(5.0)
        return done

    monkeypatch.setattr(Evaluator, "rescore", after_first_batch)
    model = tmp_path / "b.yaml"
    model.write_text(MODEL_B.replace("points: 50", "points: 51"), encoding="utf-8")
    applied = service.apply_model(model)
    assert started
    started[0].join(60.0)
    assert not started[0].is_alive()
    result = service.result("L000a")
    assert result is not None
    assert (result.model_version, result.score) == (applied.version, 51.0)
    assert service.lead("L000a").current
    assert {service.result(f"L{i:03d}").model_version for i in range(30)} == {applied.version}  # type: ignore[union-attr]


@pytest.mark.parametrize("path", PATHS)
def test_an_event_numbered_in_the_place_of_an_erased_one_is_not_lost(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """SQLite numbers a new row one past the highest stored: once the lead holding the highest
    events is erased, the next event takes a number the apply's marks already counted. The apply
    must still see it as late."""
    lifecycle = _path(store, path, monkeypatch)
    service = _service(store, tmp_path, lifecycle)  # L029's visit is the last event stored
    other = LeadService(store, clock=FixedClock(START - timedelta(seconds=1)))

    def erase_then_event() -> None:
        other.erase("L029")
        other.ingest_events([Event.of("L003", "demo", "2026-05-20", id="late-demo")])

    version = _apply_beside(monkeypatch, service, tmp_path, erase_then_event, lifecycle)
    result = service.result("L003")
    assert result is not None
    assert (result.model_version, result.score) == (version, 66.0)
    assert service.lead("L003").current
    assert service.result("L029") is None
