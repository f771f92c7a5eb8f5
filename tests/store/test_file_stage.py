"""A big events file read once (`store.file_stage`): staged by its check pass, moved into the log by SQL.

Every table a file ingest writes (events in their order, leads, aliases, queue, results and histories)
equals what the batch path writes, on both stores, with duplicates inside the file (same id, other
content; same content twice), duplicates of stored events, events under an alias, several move
chunks; a bad row anywhere refuses the file with nothing written; a file with identify events takes
the batch path."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event
from leadscore.io import DataFileError
from leadscore.model import parse_model
from leadscore.store import LeadStore, file_stage, open_store
from leadscore.store.tables import aliases, events, leads, pending_rescore
from tests.store.conftest import MODEL, FixedClock, fresh_database_url
from tests.store.helpers import START, mismatches, random_events, written_rows
from tests.store.test_file_bulk import N_LEADS
from tests.store.test_file_bulk import _service as _scored_store

pytest.importorskip("duckdb")


def _events(seed: int) -> list[Event]:
    """Random events, new leads among them, sales outcomes; duplicates of every kind the log knows."""
    evs = random_events(seed, N_LEADS + 10, 700)  # ten leads not in the store: created by the file
    evs += [Event(f"L{i:04d}", "deal_won", START + timedelta(days=40 + i), {}, None) for i in range(0, N_LEADS, 5)]
    evs.insert(100, Event("L0003", "page_view", START + timedelta(days=3), {"path": "/pricing"}, "dup-id"))
    evs.insert(500, Event("L0003", "page_view", START + timedelta(days=4), {"path": "/other"}, "dup-id"))  # dropped
    evs.insert(300, evs[10])  # the same content twice: one event
    evs.insert(50, Event("L0004", "page_view", START + timedelta(days=3), {}, "dup-id"))  # ids are per lead
    evs += [Event("visitor-7", "page_view", START + timedelta(days=60), {"path": "/docs"}, None)]  # an alias
    evs += [Event("L0001", "page_view", START + timedelta(days=2), {"path": "/"}, "stored-1")]  # stored before
    return evs


def _write(tmp_path: Path, name: str, evs: list[Event], bad_at: int | None = None) -> Path:
    lines = [json.dumps(e.to_dict()) for e in evs]
    if bad_at is not None:
        lines.insert(bad_at, json.dumps({"lead_id": "L0001", "type": "page_view", "timestamp": "not a time"}))
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_parquet(tmp_path: Path, name: str, evs: list[Event], bad_at: int | None = None) -> Path:
    """The events as Parquet, ids given from row 400 on (so that batches from there are plain and
    converted by column, `io.event_rows`, the earlier ones row by row); `bad_at`: a row without a lead."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [e.to_dict() | {"timestamp": e.timestamp} for e in evs]
    for i, row in enumerate(rows[400:], 400):
        row.setdefault("id", f"p-{i}")
    if bad_at is not None:
        rows.insert(bad_at, {"id": "bad", "lead_id": "", "type": "page_view", "timestamp": START})
    columns = {c: [r.get(c) for r in rows] for c in ("id", "lead_id", "type", "timestamp", "path")}
    table = pa.table({**columns, "timestamp": pa.array(columns["timestamp"], pa.timestamp("us", "UTC"))})
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def _service(store: LeadStore, tmp_path: Path, clock: FixedClock) -> LeadService:
    service = _scored_store(store, tmp_path, clock)
    # an alias (an identified visitor) and a stored event the file repeats
    service.ingest_events([Event.of("L0002", "identify", START, anonymous_id="visitor-7")])
    service.ingest_events([Event.of("L0001", "page_view", START + timedelta(days=2), "stored-1", path="/")])
    return service


def _reference(store: LeadStore, tmp_path: Path, request: pytest.FixtureRequest, clock: FixedClock) -> LeadService:
    where = tmp_path / "reference"
    where.mkdir()
    other = open_store(fresh_database_url(store.name, where, request, migrated=True))
    request.addfinalizer(other.dispose)
    return _service(other, where, clock)


def tables(store: LeadStore) -> dict[str, list[Any]]:
    """The log in its order (seq itself aside), the leads, aliases and queue, and what rescoring wrote."""
    with store.read() as conn:
        cols = [c for c in events.c if c.name != "seq"]
        out: dict[str, list[Any]] = {
            "events": [tuple(r) for r in conn.execute(sa.select(*cols).order_by(events.c.seq))],
            "leads": [tuple(r) for r in conn.execute(sa.select(leads).order_by(leads.c.id))],
            "aliases": [tuple(r) for r in conn.execute(sa.select(aliases).order_by(aliases.c.alias))],
            "queued": [tuple(r) for r in conn.execute(sa.select(pending_rescore).order_by(pending_rescore.c.lead_id))],
        }
    return {**out, **written_rows(store)}


@pytest.mark.parametrize(("move_rows", "kind"), [(100_000, "jsonl"), (97, "jsonl"), (97, "parquet")])
def test_a_staged_file_stores_what_the_batch_path_stores(
    store: LeadStore,
    tmp_path: Path,
    clock: FixedClock,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    move_rows: int,
    kind: str,
) -> None:
    monkeypatch.setattr(file_stage, "MOVE_ROWS", move_rows)
    path = (_write if kind == "jsonl" else _write_parquet)(tmp_path, f"events.{kind}", _events(5))
    by_column: list[int] = []
    real_rows = file_stage.Staging.add_rows

    def count(self: file_stage.Staging, rows: Any) -> None:
        by_column.append(len(rows))
        real_rows(self, rows)

    monkeypatch.setattr(file_stage.Staging, "add_rows", count)
    reference = _reference(store, tmp_path, request, clock)
    old = reference.ingest_events_file(path, bulk=None, batch_size=100_000)
    service = _service(store, tmp_path, clock)
    staged: list[int] = []
    real = file_stage.Staging.move

    def spy(self: file_stage.Staging, *args: Any, **kwargs: Any) -> int:
        staged.append(self.rows)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(file_stage.Staging, "move", spy)
    new = service.ingest_events_file(path, bulk_min=1, batch_size=100)
    assert staged, "the staged path was not taken"
    # Parquet: the rows from 400 on converted by column, the earlier ones (events without ids) by row
    assert sum(by_column) == (0 if kind == "jsonl" else len(_events(5)) - 400)
    assert (new.rows, new.received, new.inserted, new.rescored, new.changed, new.triggers) == (
        old.rows,
        old.received,
        old.inserted,
        old.rescored,
        old.changed,
        old.triggers,
    )
    assert tables(store) == tables(reference.store)
    assert mismatches(store, parse_model(MODEL)) == []
    again = service.ingest_events_file(path, bulk_min=1, batch_size=100)
    assert (again.inserted, again.rescored) == (0, 0)
    assert tables(store) == tables(reference.store)


@pytest.mark.parametrize(("where", "kind"), [(0, "jsonl"), (400, "jsonl"), (10_000, "jsonl"), (650, "parquet")])
def test_a_bad_row_anywhere_refuses_the_file_with_nothing_written(
    store: LeadStore, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch, where: int, kind: str
) -> None:
    monkeypatch.setattr(file_stage, "MOVE_ROWS", 97)
    service = _service(store, tmp_path, clock)
    before = tables(store)
    write = _write if kind == "jsonl" else _write_parquet
    path = write(tmp_path, f"bad.{kind}", _events(6), bad_at=min(where, len(_events(6))))
    with pytest.raises(DataFileError, match="timestamp" if kind == "jsonl" else "row 651:lead_id: missing lead id"):
        service.ingest_events_file(path, bulk_min=1, batch_size=100)
    assert tables(store) == before
    # the held connection went back to the pool without its staged rows: the next file is whole
    good = service.ingest_events_file(_write(tmp_path, "good.jsonl", _events(6)), bulk_min=1, batch_size=100)
    assert good.inserted > 0 and mismatches(store, parse_model(MODEL)) == []


def test_a_file_with_identify_events_takes_the_batch_path(
    store: LeadStore,
    tmp_path: Path,
    clock: FixedClock,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evs = _events(7)
    evs.insert(200, Event.of("L0005", "identify", START + timedelta(days=1), anonymous_id="visitor-9"))
    evs.insert(400, Event.of("visitor-9", "page_view", START + timedelta(days=2), path="/pricing"))
    path = _write(tmp_path, "identify.jsonl", evs)
    reference = _reference(store, tmp_path, request, clock)
    reference.ingest_events_file(path, bulk=None, batch_size=100_000)
    service = _service(store, tmp_path, clock)
    moved: list[int] = []
    monkeypatch.setattr(file_stage.Staging, "move", lambda self, *a, **k: moved.append(1) or 0)
    service.ingest_events_file(path, bulk_min=1, batch_size=100)
    assert not moved
    assert tables(store) == tables(reference.store)


def test_progress_counts_the_check_then_the_move(
    store: LeadStore, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_stage, "MOVE_ROWS", 97)
    service = _service(store, tmp_path, clock)
    seen: list[tuple[str, int, int | None]] = []
    report = service.ingest_events_file(
        _write(tmp_path, "events.jsonl", _events(8)), bulk_min=1, batch_size=100, progress=lambda *a: seen.append(a)
    )
    writes = [done for phase, done, total in seen if phase == "write" and total == report.rows]
    assert [p for p, _, _ in seen] == ["check"] * (len(seen) - len(writes)) + ["write"] * len(writes)
    assert writes == sorted(writes) and writes[-1] == report.rows and len(writes) == -(-report.rows // 97)
