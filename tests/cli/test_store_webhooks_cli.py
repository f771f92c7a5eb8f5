"""The delivery commands end to end on a fresh workspace (`cli.store_webhooks`): nothing due, nothing
dead-lettered, an empty log."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import run


def test_nothing_to_deliver_and_an_empty_log(workspace: Path) -> None:
    assert "0 delivered, 0 to retry, 0 dead-lettered" in run("webhooks", "deliver")
    assert "0 messages queued again" in run("webhooks", "redeliver")
    assert json.loads(run("webhooks", "log", "--format", "json")) == []
