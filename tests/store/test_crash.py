"""A bulk ingest killed with SIGKILL part way, then resumed: nothing acknowledged is lost, nothing
is counted twice, and every stored score equals a full recompute."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import event_key
from leadscore.store import LeadStore
from leadscore.store.tables import events, results
from tests.store.helpers import mismatches, random_events

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.processes]


def _count(store: LeadStore, table: sa.Table) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_killed_ingest_resumes_without_loss_or_double_count(
    store: LeadStore, store_url: str, model_file: Path, tmp_path: Path
) -> None:
    evs = random_events(11, 200, 3_000)
    big = tmp_path / "big.csv"
    with big.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "lead_id", "type", "timestamp", "path"])
        for e in evs:
            w.writerow([e.id or "", e.lead_id, e.type, e.timestamp.isoformat(), e.properties.get("path", "")])
    (tmp_path / "leadscore.yaml").write_text(
        f"store: {store_url}\nmodel: {model_file}\nsettings: {{batch_size: 100}}\n", encoding="utf-8"
    )
    command = [sys.executable, "-m", "leadscore.cli.main", "ingest", "events", str(big), "--project", str(tmp_path)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _count(store, events) == 0:
        assert proc.poll() is None, "the ingest ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    committed = _count(store, events)
    unique = len({event_key(e) for e in evs})
    assert 0 < committed < unique, "kill the ingest part way"
    assert mismatches(store, LeadService(store, model_path=model_file).model) == []  # committed batches are whole

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert _count(store, events) == unique
    with store.read() as conn:
        assert len(set(conn.execute(sa.select(events.c.event_key)).scalars())) == unique
    assert _count(store, results) == len({e.lead_id for e in evs})
    assert mismatches(store, LeadService(store, model_path=model_file).model) == []
