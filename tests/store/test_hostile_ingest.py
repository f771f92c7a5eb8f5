"""What one backend refuses, the check pass refuses on every backend, with file:line:field.

PostgreSQL cannot store a NUL character, nor an id, type, alias or account over 255 characters;
SQLite would take them. The check pass refuses them everywhere, so strict ingest writes nothing
and `--skip-invalid` keeps every good row of the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.io import DataFileError
from leadscore.store import LeadStore
from leadscore.store.tables import events, leads

LONG = "x" * 256
EVENT_ROWS = [
    ({"lead_id": "a", "type": "page_view", "timestamp": "2026-05-30T00:00:00Z"}, None),
    ({"lead_id": "b\u0000", "type": "page_view", "timestamp": "2026-05-30T00:00:00Z"}, "lead_id"),
    ({"lead_id": LONG, "type": "page_view", "timestamp": "2026-05-30T00:00:00Z"}, "lead_id"),
    ({"lead_id": "c", "type": LONG, "timestamp": "2026-05-30T00:00:00Z"}, "type"),
    ({"lead_id": "c", "type": "page_view", "timestamp": "2026-05-30T00:00:00Z", "id": LONG}, "id"),
    ({"lead_id": "c", "type": "page_view", "timestamp": "2026-05-30T00:00:00Z", "path": "/\u0000"}, "path"),
    ({"lead_id": "c", "type": "identify", "timestamp": "2026-05-30T00:00:00Z", "anonymous_id": LONG}, "anonymous_id"),
    ({"lead_id": "d", "type": "demo_request", "timestamp": "2026-05-31T00:00:00Z"}, None),
]
LEAD_ROWS = [
    ({"id": "a", "employees": 500}, None),
    ({"id": "b", "account": LONG}, "account"),
    ({"id": "c", "email": "x@" + LONG}, "email"),
    ({"id": "d", "note": "\u0000"}, "note"),
    ({"id": "e", "employees": 5}, None),
]


def _write(path: Path, rows: list[tuple[dict[str, object], str | None]]) -> list[str]:
    path.write_text("".join(json.dumps(row) + "\n" for row, _ in rows))
    return [f"{path}:{i}:{field}" for i, (_, field) in enumerate(rows, 1) if field]


def _count(store: LeadStore, table: sa.Table) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize("kind", ["events", "leads"])
def test_what_any_backend_refuses_is_refused_with_its_place(
    service: LeadService, store: LeadStore, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"{kind}.jsonl"
    rows = EVENT_ROWS if kind == "events" else LEAD_ROWS
    where = _write(path, rows)
    ingest = service.ingest_events_file if kind == "events" else service.ingest_leads_file
    with pytest.raises(DataFileError) as refused:
        ingest(path)
    assert [e.location for e in refused.value.errors] == where
    assert _count(store, events) == _count(store, leads) == 0
    report = ingest(path, skip_invalid=True, rejects=tmp_path / "bad.jsonl")
    assert report.rejected == len(where) and report.inserted == 2
    rejected = [json.loads(line) for line in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert [r["_line"] for r in rejected] == [int(w.split(":")[-2]) for w in where]


def test_ids_at_the_limit_fit_every_column_they_reach(service: LeadService, store: LeadStore, tmp_path: Path) -> None:
    """Causes and sources quote ids (`identify:<event id>`, `merge:<lead id>`, `file:<name>`): they
    must hold a longest id, on PostgreSQL too."""
    from leadscore.domain import Event, Lead

    keep, other, anon = "k" * 255, "o" * 255, "a" * 255
    service.ingest_leads([Lead.of(keep, employees=500), Lead.of(other, employees=5)])
    service.ingest_events([Event.of(anon, "page_view", "2026-05-29", id="v" * 255)])
    service.ingest_events([Event.of(keep, "identify", "2026-05-30", id="i" * 255, anonymous_id=anon)])
    service.merge(keep, other)
    named = tmp_path / ("n" * 240 + ".jsonl")
    named.write_text(json.dumps({"id": keep, "employees": 50}) + "\n")
    service.ingest_leads_file(named)
    service.ingest_events([Event.of(keep, "sales_accepted", "2026-05-31", id="s" * 255)])
    assert service.result(keep).stage == "sql"
    assert {e["received_lead_id"] for e in service.export(other).model_dump(mode="json")["events"]} == {anon, keep}


def test_skip_invalid_writes_nothing_from_a_file_broken_as_a_whole(
    service: LeadService, store: LeadStore, tmp_path: Path
) -> None:
    """A JSON list cut short is a problem of the whole file: refused before any row is written."""
    path = tmp_path / "events.json"
    rows = [json.dumps({"lead_id": f"L{i}", "type": "page_view", "timestamp": "2026-05-30"}) for i in range(30)]
    path.write_text("[\n" + ",\n".join(rows) + ",\n{oops\n")
    with pytest.raises(DataFileError, match=r"events.json:32: not valid JSON"):
        service.ingest_events_file(path, skip_invalid=True, batch_size=10)
    assert _count(store, events) == 0 and not (tmp_path / "events.rejects.jsonl").exists()
