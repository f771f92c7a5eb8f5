"""The active model's commands end to end on a fresh workspace (`cli.store_model`): plan as JSON writes
nothing, apply makes the model active and says so."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import run


def test_plan_writes_nothing_and_apply_activates(workspace: Path) -> None:
    run("ingest", "leads", "leads.csv")
    run("ingest", "events", "events.jsonl")
    before = json.loads(run("queue", "--format", "json"))
    model = (workspace / "model.yaml").read_text()
    (workspace / "next.yaml").write_text(model.replace("name: b2b-example", "name: next-example", 1))
    plan = json.loads(run("model", "plan", "next.yaml", "--format", "json"))
    assert plan["leads"] == 2
    assert json.loads(run("queue", "--format", "json")) == before
    applied = run("model", "apply", "next.yaml", "--quiet")
    assert "active" in applied and "2 leads rescored" in applied
