"""`model apply`: activating the model and rescoring every lead are one transaction on every path
(pure scorer; DuckDB over SQLite, through the driver and through ADBC; in-database on PostgreSQL).
A failure is provoked with a real database trigger that refuses one lead's result: the old model must
stay active and no result or history row may change."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.maintenance import refresh
from leadscore.app.service import LeadService
from leadscore.bulk.in_database import rescore_in_database
from leadscore.domain import Event, Lead
from leadscore.model import parse_model
from leadscore.store import LeadStore
from leadscore.store.ingest import ingest_events
from leadscore.store.pipeline import Evaluator
from leadscore.store.tables import results, score_history
from tests.store.conftest import FixedClock

MODEL_A = """
format: 1
name: shop
dimensions: {engagement: {cap: 40}}
rules:
  - {id: visit, dimension: engagement, on: visit, points: 15}
  - {id: spender, dimension: engagement, when: {sum: amount, of: purchase, gt: 100}, points: 7}
"""
MODEL_B = MODEL_A.replace("points: 15", "points: 16")

SQLITE_TRIGGERS = [
    "CREATE TRIGGER boom_i BEFORE INSERT ON results WHEN NEW.lead_id = 'boom' "
    "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END",
    "CREATE TRIGGER boom_u BEFORE UPDATE ON results WHEN NEW.lead_id = 'boom' "
    "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END",
]
POSTGRES_TRIGGERS = [
    "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF NEW.lead_id = 'boom' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER boom BEFORE INSERT OR UPDATE ON results FOR EACH ROW EXECUTE FUNCTION boom()",
]


def _service(store: LeadStore, tmp_path: Path) -> LeadService:
    path = tmp_path / "a.yaml"
    path.write_text(MODEL_A, encoding="utf-8")
    service = LeadService(store, model_path=path, clock=FixedClock(datetime(2026, 6, 1, tzinfo=UTC)))
    leads = [Lead(f"L{i:03d}") for i in range(30)] + [Lead("boom")]
    service.ingest_leads(leads)
    service.ingest_events(
        [Event.of(lead.id, "visit", "2026-05-01", id=f"v-{lead.id}-{k}") for lead in leads for k in range(2)]
    )
    return service


def _snapshot(store: LeadStore) -> tuple[list[Any], list[Any]]:
    with store.read() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(results).order_by(results.c.lead_id))]
        history = [tuple(r) for r in conn.execute(sa.select(score_history).order_by(score_history.c.id))]
    return rows, history


def _model_b(tmp_path: Path) -> Path:
    path = tmp_path / "b.yaml"
    path.write_text(MODEL_B, encoding="utf-8")
    return path


PATHS = ["pure", "bulk", "adbc"]


@pytest.mark.parametrize("path", PATHS)
def test_a_failed_apply_leaves_the_old_model_active_and_every_result_as_it_was(
    store: LeadStore, tmp_path: Path, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path == "adbc" and store.name == "postgres":
        pytest.skip("the ADBC writer serves SQLite stores")
    service = _service(store, tmp_path)
    old = service.active_model()
    assert old is not None
    if path == "pure":
        monkeypatch.setattr("leadscore.app.maintenance._bulk", lambda *a, **k: None)
    if path == "adbc":
        monkeypatch.setattr("leadscore.bulk.write.ADBC_MIN_ROWS", 1)
    with store.write() as conn:
        for ddl in SQLITE_TRIGGERS if store.name == "sqlite" else POSTGRES_TRIGGERS:
            conn.exec_driver_sql(ddl)
    before = _snapshot(store)
    with pytest.raises(Exception, match="refused by a test trigger"):
        service.apply_model(_model_b(tmp_path))
    fresh = LeadService(store, clock=service.clock)
    assert fresh.active_model() == old  # still active, same applied_at
    assert [m.version for m in fresh.models() if m.active] == [old.version]
    assert _snapshot(store) == before  # no result, no history row changed

    with store.write() as conn:  # the obstacle gone, the same apply goes through
        conn.exec_driver_sql("DROP TRIGGER boom_i" if store.name == "sqlite" else "DROP TRIGGER boom ON results")
        if store.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER boom_u")
    applied = service.apply_model(_model_b(tmp_path))
    assert applied.previous == old.version and applied.rescored.leads == 31
    engine = getattr(applied.rescored, "engine", "pure")
    if path != "pure":
        assert engine == ("postgresql (in-database)" if store.name == "postgres" else "duckdb")
    assert fresh.active_model().version == applied.version  # type: ignore[union-attr]
    assert {service.result(f"L{i:03d}").model_version for i in range(30)} == {applied.version}  # type: ignore[union-attr]
    assert service.result("boom").score == 32.0  # type: ignore[union-attr]


def test_a_stored_lead_whose_sums_overflow_does_not_block_apply_or_refresh(store: LeadStore, tmp_path: Path) -> None:
    """Two amounts of 1e308 stored before numbers were checked at the door (the store's own ingest,
    below the service's check): PostgreSQL's doubles overflow in the in-database statement, which
    gives way to the other paths; the pure scorer's sum is infinite, as DuckDB's."""
    service = _service(store, tmp_path)
    evaluator = Evaluator(parse_model(MODEL_A))
    legacy = [Event.of("L000", "purchase", f"2026-05-0{d}", id=f"p{d}", amount=1e308) for d in (2, 3)]
    ingest_events(store, evaluator, legacy, service.now_us)
    assert service.result("L000").score == 37.0  # type: ignore[union-attr]
    if store.name == "postgres":
        # the in-database statement fails on PostgreSQL's doubles and gives way, having written nothing
        before = _snapshot(store)
        assert rescore_in_database(store, Evaluator(parse_model(MODEL_B)), service.now_us(), "test") is None
        assert _snapshot(store) == before
    applied = service.apply_model(_model_b(tmp_path))
    assert applied.rescored.leads == 31
    assert getattr(applied.rescored, "engine", None) != "postgresql (in-database)"
    assert service.result("L000").score == 39.0  # type: ignore[union-attr]
    assert service.result("L001").score == 32.0  # type: ignore[union-attr]
    assert service.active_model().version == applied.version  # type: ignore[union-attr]
    # a refresh under another version takes the bulk paths too (bulk_min 1), and they give way the same way
    done = refresh(store, Evaluator(parse_model(MODEL_A)), service.now_us, bulk_min=1)
    assert done.leads == 31 and not done.failed
    assert service.result("L000").score == 37.0  # type: ignore[union-attr]
    assert service.result("L001").score == 30.0  # type: ignore[union-attr]
