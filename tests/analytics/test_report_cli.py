"""`leadscore report` on the hand-computed store: table, JSON, CSV, HTML and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from leadscore.app.service import LeadService
from leadscore.cli.main import app
from tests.analytics.conftest import MODEL

RUN = CliRunner()


def _workspace(tmp_path: Path, service: LeadService) -> Path:
    url = service.store.engine.url.render_as_string(hide_password=False)
    (tmp_path / "model.yaml").write_text(MODEL, encoding="utf-8")
    (tmp_path / "leadscore.yaml").write_text(f"store: {url}\nmodel: model.yaml\n", encoding="utf-8")
    return tmp_path


def test_report_formats(hand_store: LeadService, tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    ws = _workspace(tmp_path / "ws", hand_store)
    args = ["report", "funnel", "--from", "2026-01-01", "--to", "2026-02-01", "--project", str(ws)]
    table = RUN.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "Stages" in table.output and "66.7%" in table.output  # lead -> later stages: 2 of 3
    data = json.loads(RUN.invoke(app, [*args, "--format", "json"]).output)
    assert {s["stage"]: s["entered"] for s in data["stages"]}["lead"] == 3
    csv = RUN.invoke(app, [*args, "--format", "csv"]).output.splitlines()
    assert csv[0].startswith("table,stage,current,entered") and "stages,lead,1,3,3,2," in "\n".join(csv)
    html = tmp_path / "funnel.html"
    assert RUN.invoke(app, [*args, "--html", str(html)]).exit_code == 0
    assert "<svg" in html.read_text(encoding="utf-8")
    again = RUN.invoke(app, [*args, "--html", str(html)])
    assert again.exit_code == 2 and "exists" in again.output
    paid = RUN.invoke(
        app,
        [
            "report",
            "channels",
            "-a",
            "source=paid",
            "--format",
            "json",
            "--from",
            "2026-01-01",
            "--to",
            "2026-02-01",
            "--project",
            str(ws),
        ],
    )
    assert [r["value"] for r in json.loads(paid.output)["rows"]] == ["paid"]


def test_report_errors(hand_store: LeadService, tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    ws = _workspace(tmp_path / "ws", hand_store)
    for args, message in (
        (["report", "nope"], "unknown report"),
        (["report", "funnel", "--from", "2026-05-01", "--to", "2026-01-01"], "the period is empty"),
        (["report", "funnel", "--from", "yesterday"], "--from/--to"),
        (["report", "funnel", "--label", "hot"], "NAME=VALUE"),
        (["report", "quality", "--bands", "a,b"], "numbers separated by commas"),
        (["report", "funnel", "--format", "xml"], "table, json or csv"),
    ):
        result = RUN.invoke(app, [*args, "--project", str(ws)])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_report_triggers_has_deliveries_by_day(hand_store: LeadService, tmp_path: Path) -> None:
    ws = _workspace(tmp_path, hand_store)
    args = ["report", "triggers", "--from", "2026-05-30", "--to", "2026-06-02", "--project", str(ws)]
    data = json.loads(RUN.invoke(app, [*args, "--format", "json"]).output)
    assert data["days"] == [
        {"day": d, "delivered": 0, "failed": 0, "dead": n}
        for d, n in (("2026-05-30", 0), ("2026-05-31", 0), ("2026-06-01", 2))
    ]
    csv = RUN.invoke(app, [*args, "--format", "csv"]).output.splitlines()
    assert "table,day,delivered,failed,dead" in csv and "days,2026-06-01,0,0,2" in csv
    table = RUN.invoke(app, args).output
    assert "Delivery attempts by day (UTC)" in table and "2026-06-01" in table
    html = tmp_path / "triggers.html"
    assert RUN.invoke(app, [*args, "--html", str(html)]).exit_code == 0
    assert "Webhook deliveries per day" in html.read_text(encoding="utf-8")
    quiet = RUN.invoke(app, ["report", "triggers", "--from", "2026-01-01", "--to", "2026-02-01", "--project", str(ws)])
    assert "Delivery attempts by day (UTC): No delivery attempt in this period." in " ".join(quiet.output.split())
