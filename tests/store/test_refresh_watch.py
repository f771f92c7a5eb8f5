"""`leadscore refresh --watch` as a user runs it: a process that refreshes every interval until Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from leadscore.store import LeadStore
from tests.store.helpers import mismatches

pytestmark = pytest.mark.integration


def test_watch_refreshes_every_interval_until_interrupted(
    store: LeadStore, store_url: str, model_file: Path, tmp_path: Path
) -> None:
    month_ago = datetime.now(UTC) - timedelta(days=30)
    service = LeadService(store, model_path=model_file, clock=lambda: month_ago)
    service.ingest_leads([Lead.of("a", employees=500), Lead.of("b", employees=5)])
    service.ingest_events([Event.of("a", "page_view", month_ago - timedelta(days=1), path="/pricing")])
    stale = service.result("a")
    (tmp_path / "leadscore.yaml").write_text(f"store: {store_url}\nmodel: {model_file}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "LEADSCORE_DATABASE_URL"}
    command = [sys.executable, "-m", "leadscore.cli.main", "refresh", "--watch", "--interval", "0.2"]
    proc = subprocess.Popen(
        [*command, "--project", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    passes: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while len(passes) < 3 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if "re-evaluated" in line:
            passes.append(line)
    proc.send_signal(signal.SIGINT)
    rest, errors = proc.communicate(timeout=30)
    assert proc.returncode == 0, errors
    assert "stopped" in rest
    assert len(passes) == 3, passes
    assert ": 1 re-evaluated, 1 changed" in passes[0]  # a's events aged; b (no events) could not change
    assert all(" 0 re-evaluated" in p for p in passes[1:])  # and then nothing is, until time moves on
    fresh = service.result("a")
    assert fresh is not None and stale is not None and fresh.at > stale.at + timedelta(days=29)
    assert fresh.score < stale.score  # the pricing visit decayed and the visit left its 30-day window
    assert mismatches(store, service.model) == []
