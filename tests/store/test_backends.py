"""Backends own their behaviour: registered by class path, asked for capabilities, never for their name.

A backend that declares no bulk capability is rescored by the pure path and stores exactly what the
SQLite backend's bulk path stores; asking it for bulk SQL is an error naming it, never SQLite's SQL.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from leadscore.app.maintenance import apply
from leadscore.app.service import LeadService
from leadscore.bulk.export import Unsupported, export_store
from leadscore.bulk.rescore import BatchRescored
from leadscore.bulk.write import write_rows
from leadscore.model import parse_model
from leadscore.store import LeadStore, StoreError, base, open_store, register_backend
from leadscore.store.pipeline import Evaluator
from leadscore.store.tables import leads, results, score_history
from tests.batch.compare import differences
from tests.store.conftest import FixedClock, fresh_database_url
from tests.store.helpers import random_events, random_leads

BULK_MODEL = """
format: 1
name: bulk-b2b
dimensions:
  fit: {}
  engagement: {cap: 100}
rules:
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 30}
  - {id: visit, dimension: engagement, on: page_view, points: 5, within: 30d}
  - {id: pricing, dimension: engagement, on: page_view, where: {path: {contains: pricing}}, points: 20,
     decay: {half_life: 7d}}
  - {id: quiet, dimension: engagement, when: {none: page_view, within: 14d}, points: -10}
labels:
  temperature:
    - {label: hot, when: {score: total, gte: 60}}
    - {label: cold}
"""


class PlainStore(LeadStore):
    """A backend that declares nothing beyond LeadStore's contract (SQLite underneath)."""

    name = "plain"

    def _create_engine(self, url: str) -> Engine:
        return sa.create_engine("sqlite:///" + url.split(":///", 1)[1])

    def lock_leads(self, conn: Connection, lead_ids: Sequence[str]) -> None:
        """One connection in these tests: nothing to lock against."""

    def insert(self, table: sa.Table) -> Any:
        return sqlite.insert(table)

    def _is_retryable(self, exc: DBAPIError) -> bool:
        return False


@pytest.fixture()
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backends registered by a test are forgotten after it."""
    monkeypatch.setattr(base, "_BACKENDS", dict(base._BACKENDS))
    monkeypatch.setattr(base, "_SCHEMES", dict(base._SCHEMES))


def test_the_built_in_backends_are_imported_only_when_a_store_is_opened() -> None:
    code = (
        "import sys, leadscore.store as s\n"
        "assert 'leadscore.store.backends' not in sys.modules\n"
        "store = s.open_store('sqlite://')\n"
        "assert type(store).__module__ == 'leadscore.store.backends', type(store)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_a_backend_registered_by_class_path_opens(registry: None, tmp_path: Path) -> None:
    register_backend("plain", "tests.store.test_backends:PlainStore", "plainsql")
    assert "plain" in base.backend_names()
    store = open_store(f"plainsql:///{tmp_path / 'p.db'}")
    assert isinstance(store, PlainStore)
    store.dispose()


@pytest.mark.parametrize(
    ("path", "said"),
    [("tests.store.nowhere:PlainStore", "No module named"), ("tests.store.test_backends:registry", "not a LeadStore")],
)
def test_a_backend_that_cannot_be_loaded_is_a_clear_error(registry: None, path: str, said: str) -> None:
    register_backend("broken", path)
    with pytest.raises(StoreError) as err:
        open_store("broken:///x.db")
    assert "'broken'" in str(err.value) and path in str(err.value) and said in str(err.value)


def test_an_unknown_url_scheme_names_the_known_ones() -> None:
    with pytest.raises(StoreError, match=r"scheme 'mysql' is none of .*postgresql.*sqlite"):
        open_store("mysql://db/leads")


def test_the_built_in_backends_declare_their_capabilities() -> None:
    sqlite_store = open_store("sqlite://")
    pg = base.backend_class("postgres")
    assert sqlite_store.bulk and pg.bulk
    assert pg.in_database_rescore and pg.copy_export and not pg.temp_rows_ordered
    assert not sqlite_store.in_database_rescore and not sqlite_store.copy_export and sqlite_store.temp_rows_ordered
    assert sqlite_store.sqlite_file() is None  # in memory: no other process can open it
    assert sqlite_store.json_value_sql("attributes", "k") is None  # DuckDB reads the raw JSON text
    assert pg.json_value_sql("attributes", "it's") == "CAST(attributes -> 'it''s' AS TEXT)"
    sqlite_store.dispose()


def test_a_backend_without_bulk_gets_an_error_naming_it_never_sqlite_sql(tmp_path: Path) -> None:
    store = PlainStore(f"plain:///{tmp_path / 'p.db'}")
    for ask in (lambda: store.json_size_sql("d"), lambda: store.json_number_sql("d", "k"), store.json_type):
        with pytest.raises(StoreError, match=r"the 'plain' store backend cannot .* no bulk path"):
            ask()
    with pytest.raises(StoreError, match="'plain'"), store.write() as conn:
        write_rows(store, conn, None, ["fit"], 0, "test")  # type: ignore[arg-type]
    with pytest.raises(Unsupported, match="'plain'"):
        export_store(store, parse_model(BULK_MODEL), 0, None)  # type: ignore[arg-type]
    store.dispose()


def test_apply_on_a_backend_without_bulk_stores_what_the_bulk_path_stores(tmp_path: Path) -> None:
    model_file = tmp_path / "model.yaml"
    model_file.write_text(BULK_MODEL)
    clock = FixedClock(datetime(2026, 6, 1, tzinfo=UTC))
    db = tmp_path / "store.db"
    source = open_store(f"sqlite:///{db}")
    source.upgrade()
    service = LeadService(source, model_path=model_file, clock=clock)
    service.ingest_leads(random_leads(3, 30))
    service.ingest_events(random_events(3, 30, 400, days=40))
    source.dispose()
    shutil.copy(db, tmp_path / "plain.db")
    clock.advance(days=3)
    stored: dict[str, list[dict[str, Any]]] = {}
    for kind, url in (("sqlite", f"sqlite:///{db}"), ("plain", f"plain:///{tmp_path / 'plain.db'}")):
        store = open_store(url) if kind == "sqlite" else PlainStore(url)
        done = apply(store, Evaluator(parse_model(BULK_MODEL)), service.now_us)
        assert isinstance(done, BatchRescored) == (kind == "sqlite")  # the plain backend: the pure path
        with store.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(sa.select(results).order_by(results.c.lead_id))]
            history = conn.execute(sa.select(sa.func.count()).select_from(score_history)).scalar_one()
        stored[kind] = [{"lead_id": r["lead_id"], "score": r["score"], "history": history} for r in rows]
        store.dispose()
    assert len(stored["plain"]) == 30
    diff = differences(stored["sqlite"], stored["plain"])
    assert not diff, "\n".join(diff[:10])


def test_without_the_batch_extra_apply_takes_the_pure_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadscore._extras import EXTRAS, Extra

    model_file = tmp_path / "model.yaml"
    model_file.write_text(BULK_MODEL)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.upgrade()
    service = LeadService(store, model_path=model_file, clock=FixedClock(datetime(2026, 6, 1, tzinfo=UTC)))
    service.ingest_leads(random_leads(4, 10))
    monkeypatch.setitem(EXTRAS, "batch", Extra("DuckDB and more", ("leadscore_no_such_module",)))
    done = apply(store, Evaluator(parse_model(BULK_MODEL)), service.now_us)
    assert not isinstance(done, BatchRescored) and done.leads == 10
    store.dispose()


@pytest.mark.integration
@pytest.mark.parametrize("n", [3, 150])  # below and from `LOCK_ARRAY_MIN`: the ids as a list, as one array
def test_postgres_lock_leads_holds_every_lead_until_the_transaction_ends(
    tmp_path: Path, request: pytest.FixtureRequest, n: int
) -> None:
    from psycopg.errors import LockNotAvailable

    store = open_store(fresh_database_url("postgres", tmp_path, request, migrated=True))
    other = sa.create_engine(store.engine.url)
    ids = [f"L{i:04d}" for i in range(n)]
    try:
        with store.write() as conn:
            conn.execute(leads.insert(), [{"id": i, "attributes": {}, "created_at": 1, "updated_at": 1} for i in ids])
        with store.write() as conn:
            store.lock_leads(conn, [*reversed(ids), "missing", ids[0]])  # any order, repeats, unknown ids
            for lead in (ids[0], ids[-1]):
                with other.connect() as second, pytest.raises(sa.exc.OperationalError) as caught:
                    second.exec_driver_sql(f"SELECT id FROM leads WHERE id = '{lead}' FOR UPDATE NOWAIT").all()
                assert isinstance(caught.value.orig, LockNotAvailable)
        with other.connect() as second:  # released at commit
            assert len(second.exec_driver_sql("SELECT id FROM leads FOR UPDATE NOWAIT").all()) == n
    finally:
        other.dispose()
        store.dispose()


def test_a_new_sqlite_store_has_16_kib_pages_and_an_existing_file_keeps_its_own(tmp_path: Path) -> None:
    """Larger pages for a new file (the bulk intake's commits write fewer, larger pages); a file made
    before keeps its page size (WAL fixes it), and opens and reads as before."""
    import sqlite3

    from leadscore.store.backends import PAGE_BYTES

    def page_size(path: Path) -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("PRAGMA page_size").fetchone()[0])

    new = tmp_path / "new.db"
    store = open_store(f"sqlite:///{new}")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
    store.engine.dispose()
    assert page_size(new) == PAGE_BYTES == 16384

    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    store = open_store(f"sqlite:///{old}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT x FROM t").scalar() == 1
    store.engine.dispose()
    assert page_size(old) == 4096


def test_a_refused_sqlite_append_leaves_the_log_as_it_was_without_a_savepoint(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The bulk append that meets a stored identity is undone by deleting the rows it numbered past the
    log's highest, not by a savepoint (whose sub-journal copied every page the append touched): the log
    as before, and the next rows numbered right after it, as if nothing had been appended."""
    from leadscore.store.backends import RETURNING_ROWS

    store = open_store(fresh_database_url("sqlite", tmp_path, request, migrated=True))

    def rows(start: int, count: int) -> list[tuple[Any, ...]]:
        return [(f"e{n}", f"L{n % 7}", f"L{n % 7}", "page_view", n, "{}", 0) for n in range(start, start + count)]

    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    count = RETURNING_ROWS + 1
    with store.write() as conn:
        assert store.append_all_new(conn, rows(0, count))
    with store.write() as conn:  # a retried request: its 21st row stored, the rows before it new
        assert not store.append_all_new(conn, rows(count + 20, count)[:20] + rows(20, count - 20))
    with store.write() as conn:
        assert store.append_all_new(conn, rows(count, count))
    with store.read() as conn:
        log = conn.exec_driver_sql("SELECT seq, event_key FROM events ORDER BY seq").all()
    store.engine.dispose()
    assert log == [(n + 1, f"e{n}") for n in range(2 * count)]
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]
