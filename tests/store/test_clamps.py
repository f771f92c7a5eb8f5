"""A clamped dimension is its bound exactly in the store: results written by ingest (pure scorer),
by `model apply` on the pure path and on the bulk paths (DuckDB over SQLite, through the driver and
through ADBC; in-database on PostgreSQL). Hand-computed cases (tests/support/thresholds.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.app.maintenance import apply, refresh
from leadscore.app.service import LeadService
from leadscore.bulk.writeback import rescore_store
from leadscore.domain.timeutil import parse_timestamp, to_micros
from leadscore.model import parse_model
from leadscore.store import LeadStore
from leadscore.store.pipeline import Evaluator
from tests.store.conftest import FixedClock
from tests.support import thresholds


def _service(store: LeadStore, tmp_path: Path, text: str = thresholds.MODEL) -> LeadService:
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    return LeadService(store, model_path=path, clock=FixedClock(parse_timestamp(thresholds.AT)))


def _stored(service: LeadService) -> list[dict]:
    found = [service.result(lead.id) for lead in thresholds.LEADS]
    return [r.to_dict() for r in found if r is not None]


def _loaded(store: LeadStore, tmp_path: Path) -> LeadService:
    service = _service(store, tmp_path)
    service.ingest_leads(thresholds.LEADS)
    service.ingest_events(thresholds.events())
    return service


def test_ingest_stores_the_bounds(store: LeadStore, tmp_path: Path) -> None:
    thresholds.check_all(_stored(_loaded(store, tmp_path)))


@pytest.mark.parametrize("bulk", [False, True])
def test_model_apply_stores_the_bounds(store: LeadStore, tmp_path: Path, bulk: bool) -> None:
    """A changed model rescored on the pure path, or in bulk (DuckDB on SQLite, in-database on PostgreSQL)."""
    service = _loaded(store, tmp_path)
    model = parse_model(thresholds.MODEL.replace("name: thresholds", "name: thresholds-again"))
    evaluator = Evaluator(model)
    done = apply(store, evaluator, lambda: to_micros(parse_timestamp(thresholds.AT)), bulk=bulk)
    assert done.leads == len(thresholds.LEADS)
    engine = getattr(done, "engine", None)
    if bulk:
        assert engine == ("postgresql (in-database)" if store.name == "postgres" else "duckdb")
    else:
        assert engine is None
    got = _stored(service)
    assert {r["model"] for r in got} == {"thresholds-again"}
    thresholds.check_all(got)


def test_duckdb_over_sqlite_through_adbc_stores_the_bounds(store: LeadStore, tmp_path: Path) -> None:
    if store.name == "postgres":
        pytest.skip("ADBC writes SQLite files")
    service = _loaded(store, tmp_path)
    model = parse_model(thresholds.MODEL.replace("name: thresholds", "name: thresholds-again"))
    at = to_micros(parse_timestamp(thresholds.AT))
    done = rescore_store(store, Evaluator(model), at, "test", adbc_min_rows=0)
    assert done is not None and done.leads == len(thresholds.LEADS)
    thresholds.check_all(_stored(service))


@pytest.mark.parametrize("bulk_min", [None, 1])
def test_refresh_stores_the_bounds(store: LeadStore, tmp_path: Path, bulk_min: int | None) -> None:
    """Refresh of leads due under another model version: batch by batch, or in bulk (`bulk_min` 1)."""
    service = _loaded(store, tmp_path)
    model = parse_model(thresholds.MODEL.replace("name: thresholds", "name: thresholds-again"))
    done = refresh(store, Evaluator(model), lambda: to_micros(parse_timestamp(thresholds.AT)), bulk_min=bulk_min)
    assert done.leads == len(thresholds.LEADS)
    if bulk_min is not None:
        assert getattr(done, "engine", None) == ("postgresql (in-database)" if store.name == "postgres" else "duckdb")
    got = _stored(service)
    assert {r["model"] for r in got} == {"thresholds-again"}
    thresholds.check_all(got)


def test_lifecycle_stages_compare_the_exact_bound_in_the_store(store: LeadStore, tmp_path: Path) -> None:
    service = _service(store, tmp_path, thresholds.LIFECYCLE_MODEL)
    service.ingest_leads(thresholds.LEADS)
    service.ingest_events(thresholds.lifecycle_events())
    got = _stored(service)
    assert {r["lead_id"]: r["stage"] for r in got} == thresholds.STAGES
    thresholds.check_all(got)
