"""Overlapping `leadscore webhooks deliver` runs (cron, several workers) make each attempt once: a run
claims the messages it sends with a lease, on SQLite and PostgreSQL alike, and sends them concurrently."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.domain.timeutil import to_micros
from leadscore.store import LeadStore
from leadscore.store.outbox_repo import SqlOutboxRepository
from leadscore.webhooks import generate_secret
from tests.webhooks.receiver import Receiver, Reply, running

pytestmark = pytest.mark.integration

SECRET = generate_secret()
LEADS = 7  # each fires two triggers: 14 messages, as in the report of the bug
T0 = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running(Receiver(SECRET)) as r:
        yield r


def cli(project: Path, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--project", str(project)])
    assert result.exit_code == 0, result.output
    return result.output


def workspace(tmp_path: Path, store_url: str, model_file: Path, receiver: Receiver, reply: Reply) -> int:
    """A workspace whose store holds 2 messages per lead for the receiver; returns the message count."""
    crm = receiver.on("/crm", reply)
    chat = receiver.on("/chat", reply)
    (tmp_path / "leadscore.yaml").write_text(
        f"store: {store_url}\nmodel: {model_file}\ndestinations:\n"
        f"  crm: {{url: '{crm}', secret: '{SECRET}'}}\n  chat: {{url: '{chat}', secret: '{SECRET}'}}\n",
        encoding="utf-8",
    )
    when = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids = [f"l{i}" for i in range(LEADS)]
    (tmp_path / "leads.csv").write_text("id,employees\n" + "".join(f"{i},500\n" for i in ids), encoding="utf-8")
    rows = "".join(f"{i},demo_request,{when},\n{i},page_view,{when},/pricing\n" for i in ids)
    (tmp_path / "events.csv").write_text("lead_id,type,timestamp,path\n" + rows, encoding="utf-8")
    cli(tmp_path, "ingest", "leads", str(tmp_path / "leads.csv"))
    assert f"{2 * LEADS} triggers fired" in cli(tmp_path, "ingest", "events", str(tmp_path / "events.csv"))
    return 2 * LEADS


def test_three_overlapping_deliver_runs_send_each_message_once(
    store_url: str, model_file: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    # a slow receiver, so the runs overlap: one run alone takes at least a second
    messages = workspace(tmp_path, store_url, model_file, receiver, Reply(200, delay_s=1.0))
    command = [sys.executable, "-m", "leadscore.cli.main", "webhooks", "deliver", "--project", str(tmp_path)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert "Traceback" not in "".join(out + err for out, err in outputs)

    ids = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(receiver.received) == messages and set(ids.values()) == {1}, ids
    delivered = sum(int(out.split(" delivered")[0].split()[-1]) for out, _ in outputs)
    assert delivered == messages
    assert "0 delivered, 0 to retry" in cli(tmp_path, "webhooks", "deliver")


def test_one_run_sends_concurrently_within_its_bound(
    store_url: str, model_file: Path, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    messages = workspace(tmp_path, store_url, model_file, receiver, Reply(200, delay_s=0.5))
    assert f"{messages} delivered, 0 to retry" in cli(tmp_path, "webhooks", "deliver", "--concurrency", "4")
    assert len(receiver.received) == messages
    assert 1 < receiver.most_in_flight <= 4


def _queued(store: LeadStore, n: int) -> list[str]:
    from leadscore.store.outbox_repo import enqueue
    from leadscore.triggers.firings import TriggerFiring

    firings = [
        TriggerFiring(f"t{i}", f"l{i}", "crm", T0, "stage_changed", "lead", "mql", {"n": i}, f"trg_{i:04d}")
        for i in range(n)
    ]
    store.transact(lambda conn: enqueue(store, conn, firings, to_micros(T0)))
    return [f.key for f in firings]


def test_claims_on_the_store_are_disjoint_lapse_and_are_released(store: LeadStore) -> None:
    repo = SqlOutboxRepository(store)
    keys = _queued(store, 5)
    lease = T0 + timedelta(minutes=5)
    first = repo.claim_due(T0, 3, "run1", lease)
    assert [m.id for m in first] == keys[:3]
    assert [m.id for m in repo.claim_due(T0, 10, "run2", lease)] == keys[3:]
    assert repo.claim_due(T0 + timedelta(minutes=1), 10, "run3", lease) == []
    assert len(repo.fetch_due(T0, 10)) == 5  # looking is not claiming

    repo.mark_delivered(keys[0], T0)
    repo.schedule_retry(keys[1], T0 + timedelta(minutes=1), "HTTP 503")
    assert [m.id for m in repo.claim_due(T0 + timedelta(minutes=1), 10, "run3", lease)] == [keys[1]]
    # run1 died holding keys[2], run2 and run3 never reported: when their leases end, all is due again
    later = repo.claim_due(lease, 10, "run4", lease + timedelta(minutes=5))
    assert [m.id for m in later] == [*keys[2:], keys[1]]


def test_concurrent_claimers_never_share_a_message(store: LeadStore) -> None:
    keys = _queued(store, 200)
    lease = T0 + timedelta(minutes=5)
    start = threading.Barrier(6)

    def claim_all(run: str) -> list[str]:
        repo = SqlOutboxRepository(store)
        start.wait()
        got: list[str] = []
        while batch := repo.claim_due(T0, 7, run, lease):
            got.extend(m.id for m in batch)
        return got

    with ThreadPoolExecutor(6) as pool:
        claimed = list(pool.map(claim_all, [f"run{i}" for i in range(6)]))
    every = [k for run in claimed for k in run]
    assert sorted(every) == keys  # each message claimed once, none lost
    assert sum(1 for run in claimed if run) > 1


def test_a_late_failure_report_does_not_undo_a_delivery(store: LeadStore) -> None:
    repo = SqlOutboxRepository(store)
    [key] = _queued(store, 1)
    lease = T0 + timedelta(minutes=5)
    assert [m.id for m in repo.claim_due(T0, 1, "slow-run", lease)] == [key]
    assert [m.id for m in repo.claim_due(lease, 1, "next-run", lease + timedelta(minutes=5))] == [key]
    repo.mark_delivered(key, lease)
    repo.schedule_retry(key, lease + timedelta(minutes=1), "timed out")  # the slow run reports at last
    repo.dead_letter(key, lease, "gave up")
    assert repo.messages()[0]["status"] == "delivered"
    assert repo.claim_due(lease + timedelta(days=1), 10, "later", lease + timedelta(days=2)) == []
