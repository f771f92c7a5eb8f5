"""Trigger messages written to the store's outbox reach a real HTTP receiver through the CLI:
signed, retried with backoff, dead-lettered, and queued again by `leadscore webhooks redeliver`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.webhooks import generate_secret
from tests.webhooks.receiver import Receiver, Reply, running

pytestmark = pytest.mark.integration

SECRET = generate_secret()
runner = CliRunner()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running(Receiver(SECRET)) as r:
        yield r


def cli(project: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--project", str(project)])
    assert result.exit_code == 0, result.output
    return result.output


def test_outbox_messages_are_delivered_retried_dead_lettered_and_redelivered(
    store_url: str, model_file: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    crm = receiver.on("/crm", Reply(503, body="busy"), Reply(200))
    chat = receiver.on("/chat", Reply(500))
    fast = "max_attempts: 2, backoff_base_s: 0.05, backoff_factor: 1, jitter: 0"
    (tmp_path / "leadscore.yaml").write_text(
        f"store: {store_url}\nmodel: {model_file}\ndestinations:\n"
        f"  crm: {{url: '{crm}', secret: '{SECRET}', {fast}}}\n"
        f"  chat: {{url: '{chat}', secret: '{SECRET}', {fast}}}\n",
        encoding="utf-8",
    )
    when = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "leads.csv").write_text("id,employees\na,500\n", encoding="utf-8")
    (tmp_path / "events.csv").write_text(
        f"lead_id,type,timestamp,path\na,demo_request,{when},\na,page_view,{when},/pricing\n", encoding="utf-8"
    )
    cli(tmp_path, "db", "upgrade")
    cli(tmp_path, "ingest", "leads", str(tmp_path / "leads.csv"))
    assert "2 triggers fired" in cli(tmp_path, "ingest", "events", str(tmp_path / "events.csv"))

    assert "0 delivered, 2 to retry, 0 dead-lettered" in cli(tmp_path, "webhooks", "deliver")
    time.sleep(0.2)  # past the first backoff
    assert "1 delivered, 0 to retry, 1 dead-lettered" in cli(tmp_path, "webhooks", "deliver")
    assert "0 delivered, 0 to retry, 0 dead-lettered" in cli(tmp_path, "webhooks", "deliver")

    to_crm = receiver.at("/crm")
    assert len(to_crm) == 2 and all(r.signature_ok for r in to_crm)
    assert to_crm[0].headers["webhook-id"] == to_crm[1].headers["webhook-id"]  # receivers can dedupe retries
    body = json.loads(to_crm[1].body)
    assert body["type"] == "lead.stage_changed"
    assert body["data"]["trigger"] == "to-mql" and body["data"]["lead_id"] == "a"
    assert body["data"]["result"]["stage"] == "mql"

    log = json.loads(cli(tmp_path, "webhooks", "log", "--format", "json"))
    assert sorted((r["destination"], r["attempt"], r["ok"]) for r in log) == [
        ("chat", 1, False),
        ("chat", 2, False),
        ("crm", 1, False),
        ("crm", 2, True),
    ]
    assert {r["status_code"] for r in log if r["destination"] == "chat"} == {500}

    receiver.on("/chat", Reply(204))
    assert "1 messages queued again" in cli(tmp_path, "webhooks", "redeliver")
    assert "0 messages queued again" in cli(tmp_path, "webhooks", "redeliver")
    assert "1 delivered, 0 to retry, 0 dead-lettered" in cli(tmp_path, "webhooks", "deliver")
    to_chat = receiver.at("/chat")
    assert len(to_chat) == 3 and to_chat[-1].signature_ok
    assert json.loads(to_chat[-1].body)["data"]["trigger"] == "hot"


def test_redeliver_by_id_and_destination_touches_only_those(
    store_url: str, model_file: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace

    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    gone = receiver.on("/gone", Reply(410))  # a permanent failure: dead at once, no retry
    (tmp_path / "leadscore.yaml").write_text(
        f"store: {store_url}\nmodel: {model_file}\ndestinations:\n"
        f"  crm: {{url: '{gone}', secret: '{SECRET}'}}\n  chat: {{url: '{gone}', secret: '{SECRET}'}}\n",
        encoding="utf-8",
    )
    when = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "events.csv").write_text(
        f"lead_id,type,timestamp,path\nb,demo_request,{when},\nb,page_view,{when},/pricing\n"
        f"b,page_view,{when},/pricing/x\n",
        encoding="utf-8",
    )
    cli(tmp_path, "db", "upgrade")
    cli(tmp_path, "ingest", "events", str(tmp_path / "events.csv"))
    assert "0 delivered, 0 to retry, 2 dead-lettered" in cli(tmp_path, "webhooks", "deliver")
    service = LeadService.from_workspace(Workspace.load(tmp_path))
    try:
        dead = {m["destination"]: m for m in service.outbox().messages(status="dead")}
        assert set(dead) == {"crm", "chat"} and "410" in (dead["crm"]["last_error"] or "")
        assert "1 messages queued again" in cli(tmp_path, "webhooks", "redeliver", "--destination", "chat")
        assert "1 messages queued again" in cli(tmp_path, "webhooks", "redeliver", dead["crm"]["id"])
        assert {m["status"] for m in service.outbox().messages()} == {"pending"}
    finally:
        service.close()
