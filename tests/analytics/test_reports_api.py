"""The reports over HTTP (`GET /v1/reports/NAME`) and the documented `leadscore report` examples."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leadscore.analytics import run_report
from leadscore.app.service import LeadService
from leadscore.cli.main import app
from leadscore.dashboard.site import create_site
from tests.analytics.test_report_cli import _workspace
from tests.analytics.test_reports import JANUARY

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_reports_over_http(hand_store: LeadService) -> None:
    _, reader = hand_store.create_key("reader", ["read"])
    client = TestClient(create_site(hand_store))
    auth = {"Authorization": f"Bearer {reader}"}
    answer = client.get("/v1/reports/funnel?from=2026-01-01&to=2026-02-01", headers=auth)
    assert answer.status_code == 200
    expected = run_report(hand_store, "funnel", JANUARY).model_dump(mode="json")
    assert answer.json()["stages"] == expected["stages"] and answer.json()["exits"] == expected["exits"]
    paid = client.get("/v1/reports/channels?from=2026-01-01&to=2026-02-01&attribute=source=paid", headers=auth)
    assert [r["value"] for r in paid.json()["rows"]] == ["paid"]
    health = client.get("/v1/reports/triggers?from=2026-05-31&to=2026-06-02", headers=auth).json()["days"]
    assert health == [
        {"day": "2026-05-31", "delivered": 0, "failed": 0, "dead": 0},
        {"day": "2026-06-01", "delivered": 0, "failed": 0, "dead": 2},
    ]
    assert client.get("/v1/reports/funnel").status_code == 401
    assert client.get("/v1/reports/revenue", headers=auth).status_code == 422
    bad = client.get("/v1/reports/funnel?from=2026-02-01&to=2026-01-01", headers=auth)
    assert bad.status_code == 422 and "the period is empty" in bad.json()["detail"]
    assert client.get("/v1/reports/quality?bands=a", headers=auth).status_code == 422


def test_the_documented_examples_run(hand_store: LeadService, tmp_path: Path) -> None:
    text = (DOCS / "reports.md").read_text(encoding="utf-8")
    block = re.search(r"^```sh report-example\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert block is not None
    (tmp_path / "ws").mkdir()
    ws = _workspace(tmp_path / "ws", hand_store)
    lines = [line for line in block.group(1).splitlines() if line.startswith("leadscore report")]
    assert len(lines) >= 5
    for line in lines:
        result = CliRunner().invoke(app, [*shlex.split(line)[1:], "--project", str(ws)])
        assert result.exit_code == 0, (line, result.output)
