"""Several writers ingest overlapping events for the same leads at once: no update is lost."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import event_key
from leadscore.store import LeadStore, open_store
from leadscore.store.tables import events
from tests.store.conftest import FixedClock
from tests.store.helpers import mismatches, random_events

pytestmark = pytest.mark.processes


def test_concurrent_writers_lose_nothing(store: LeadStore, store_url: str, model_file: Path, clock: FixedClock) -> None:
    LeadService(store, model_path=model_file, clock=clock).upgrade()  # register the model once
    evs = random_events(7, 8, 800)  # few leads, so every batch of every writer touches the same leads
    writers = 4
    errors: list[BaseException] = []

    def write(n: int) -> None:
        own = open_store(store_url)  # its own engine and connections, like a separate process
        try:
            service = LeadService(own, model_path=model_file, clock=clock, batch_size=25)
            # each writer sends an overlapping share: its own quarter plus the next one
            mine = [e for i, e in enumerate(evs) if i % writers in (n, (n + 1) % writers)]
            service.ingest_events(mine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.read() as conn:
        stored = list(conn.execute(sa.select(events.c.event_key)).scalars())
    assert sorted(stored) == sorted({event_key(e) for e in evs})
    service = LeadService(store, model_path=model_file, clock=clock)
    assert mismatches(store, service.model) == []
