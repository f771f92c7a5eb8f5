"""The result views end to end on a fresh workspace (`cli.store_views`): queue and explain as JSON, the
queue in the sales queue's order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadscore.triggers.queue_order import sales_queue
from tests.cli.conftest import run


def test_ingest_then_queue_and_explain_as_json(workspace: Path) -> None:
    run("ingest", "leads", "leads.csv")
    out = run("ingest", "events", "events.jsonl")
    assert "3 new events" in out
    assert "0 new events" in run("ingest", "events", "events.jsonl")
    queue = json.loads(run("queue", "--format", "json"))
    assert [r["lead_id"] for r in queue] == ["a", "b"]
    assert set(queue[0]) >= {
        "lead_id",
        "at",
        "model",
        "model_version",
        "score",
        "dimensions",
        "labels",
        "stage",
        "breakdown",
    }
    assert math_sum(queue[0]["breakdown"]) == pytest.approx(queue[0]["score"])
    explained = json.loads(run("explain", "a", "--format", "json"))
    assert explained["score"] == queue[0]["score"] and len(explained["events"]) == 2
    assert explained["score_history"] and explained["stage_history"]


def math_sum(entries: list[dict[str, float]]) -> float:
    return sum(e["points"] for e in entries)


def test_queue_json_is_in_queue_order(workspace: Path) -> None:
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace

    run("ingest", "leads", "leads.csv")
    run("ingest", "events", "events.jsonl")
    service = LeadService.from_workspace(Workspace.find(workspace))
    try:
        expected = [r.lead_id for r in sales_queue(service.queue())]
    finally:
        service.close()
    assert [r["lead_id"] for r in json.loads(run("queue", "--format", "json"))] == expected
