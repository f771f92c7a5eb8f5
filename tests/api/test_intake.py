"""The intake (leadscore.api.intake): a bulk request on SQLite takes the writers' turn
(leadscore.store.pending.writer_turn), as the group commit and the rescoring worker's drain do: it waits in
the kernel for the turn's holder, not in SQLite's busy handler, whose sleeps of up to 100 ms left the write
lock free and the request asleep after each other writer's commit. The single event's answer
(`intake.report_response`) is the JSON of its `IngestReport`, byte for byte."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from leadscore.api.app import create_app
from leadscore.api.bulk_body import events_of
from leadscore.api.intake import report_response
from leadscore.api.schemas import EventIn, IngestReport
from leadscore.app.committer import Committed
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.domain import Event
from leadscore.store.event_columns import EventColumns
from leadscore.store.pending import writer_turn
from leadscore.store.tables import events
from tests.api.server import create_key, make_workspace
from tests.store.helpers import mismatches


def test_a_bulk_request_waits_for_the_writers_turn_and_goes_on_once_it_is_free(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    key = create_key(root, "writer", "write")
    service = LeadService.from_workspace(Workspace.load(root))
    try:
        client = TestClient(create_app(service))  # no lifespan: scored before the acknowledgement
        # more events than the group commit takes: the request's own transaction
        events = [{"lead_id": f"L{i % 7}", "type": "page_view", "timestamp": "2026-05-30"} for i in range(1001)]
        statuses: list[int] = []

        def send() -> None:
            sent = client.post("/v1/events/bulk", json={"events": events}, headers={"Authorization": f"Bearer {key}"})
            statuses.append(sent.status_code)

        with writer_turn(service.store):  # a drain's write, or a group commit, holds the turn
            sender = threading.Thread(target=send)
            sender.start()
            sender.join(0.5)
            assert sender.is_alive() and not statuses  # SQLite's write lock is free: only the turn holds it
        sender.join(30)
        assert statuses == [200]
        assert service.lead("L3") is not None
    finally:
        service.close()


@pytest.mark.parametrize("outcome", [(1, 1, 0, 0, 0, 1), (1, 0, 0, 0, 0, 0), (1, 1, 3, 2, 1, 0), (1, 1, 0, 0, 0, 7)])
def test_the_answer_is_the_reports_json(outcome: tuple[int, ...]) -> None:
    for _ in range(2):  # built, then reused
        answer = report_response(Committed(*outcome))
        received, inserted, rescored, changed, triggers, pending = outcome
        report = IngestReport(
            received=received, inserted=inserted, rescored=rescored, changed=changed, triggers=triggers, pending=pending
        )
        assert answer.body == report.model_dump_json().encode()
        assert answer.status_code == 200 and answer.background is None
        assert dict(answer.raw_headers) == {
            b"content-length": str(len(answer.body)).encode(),
            b"content-type": b"application/json",
        }


def test_a_large_plain_bulk_request_stores_what_the_event_by_event_read_gives(backend_root: Path) -> None:
    """More events than the group commit takes, every one plain (leadscore.store.event_columns): read
    as columns and stored from them, row for row as `EventIn` reads each event (times in other zones,
    nulls dropped, an aliased lead resolved), scored as the pure scorer scores; sent again, nothing
    is stored twice."""
    key = create_key(backend_root, "writer", "write")
    service = LeadService.from_workspace(Workspace.load(backend_root))
    try:
        service.ingest_events([Event.of("K0", "page_view", "2026-05-01"), Event.of("old", "page_view", "2026-05-01")])
        service.merge("K0", "old")  # "old" is an alias of K0 now
        items = [
            {
                "id": f"e{i}",
                "lead_id": "old" if i % 50 == 0 else f"K{i % 9}",
                "type": ("page_view", "email_click")[i % 2],
                "timestamp": f"2026-05-{1 + i % 28:02d}T{i % 24:02d}:00:00{('Z', '+02:00', '-05:30', '')[i % 4]}",
                "properties": {"n": i, "x": i / 8, "p": "/é" if i % 3 else None, "b": i % 5 == 0},
            }
            for i in range(1001)
        ]
        assert isinstance(events_of(json.dumps({"events": items}).encode(), 10_000), EventColumns)
        expected = [EventIn.model_validate(item, strict=True).to_event() for item in items]
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(create_app(service)) as client:  # with its lifespan: rescoring after the acknowledgement
            sent = client.post("/v1/events/bulk", json={"events": items}, headers=headers)
            assert sent.status_code == 200 and sent.json()["inserted"] == 1001
            again = client.post("/v1/events/bulk", json={"events": items}, headers=headers)
            assert again.status_code == 200 and again.json()["inserted"] == 0
        while service.drain_pending().taken:
            pass
        with service.store.read() as conn:
            query = sa.select(events.c.event_key, events.c.lead_id, events.c.received_lead_id, events.c.type)
            found = conn.execute(query.add_columns(events.c.ts, events.c.properties).order_by(events.c.seq)).all()
        rows = [(*row[:5], json.loads(row[5]) if isinstance(row[5], str) else row[5]) for row in found[2:]]
        assert rows == [
            (e.id, "K0" if e.lead_id == "old" else e.lead_id, e.lead_id, e.type, e.ts, e.properties) for e in expected
        ]
        assert mismatches(service.store, service.model) == []
    finally:
        service.close()
