"""The intake (leadscore.api.intake): a bulk request on SQLite takes the writers' turn
(leadscore.store.pending.writer_turn), as the group commit and the rescoring worker's drain do: it waits in
the kernel for the turn's holder, not in SQLite's busy handler, whose sleeps of up to 100 ms left the write
lock free and the request asleep after each other writer's commit. The single event's answer
(`intake.report_response`) is the JSON of its `IngestReport`, byte for byte."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from leadscore.api.app import create_app
from leadscore.api.intake import report_response
from leadscore.api.schemas import IngestReport
from leadscore.app.committer import Committed
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.store.pending import writer_turn
from tests.api.server import create_key, make_workspace


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
