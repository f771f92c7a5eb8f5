"""The single event's answer (`intake.report_response`) is the JSON of its `IngestReport`, byte for byte."""

from __future__ import annotations

import pytest

from leadscore.api.intake import report_response
from leadscore.api.schemas import IngestReport
from leadscore.app.committer import Committed


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
