"""A bulk deferred ingest on PostgreSQL takes its leads' locks after its COPY, not before: a drain (or
another bulk request) of the same leads runs while the COPY does, and the events it could not see
are queued again by the bulk's commit, so the drained store still equals the pure scorer's."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from leadscore.domain import Event
from tests.store.helpers import b2b_service, mismatches
from tests.store.test_pending import NOW


@pytest.mark.integration
def test_a_drain_during_a_bulk_copy_neither_waits_for_it_nor_loses_its_events(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = b2b_service("postgres", tmp_path, "s", request, [NOW])
    try:
        service.ingest_events([Event.of("a", "page_view", NOW - timedelta(hours=2), path="/pricing")], defer=True)
        batch = [Event.of(f"L{i % 50}", "page_view", NOW - timedelta(hours=1), id=f"b{i}") for i in range(600)]
        batch.append(Event.of("a", "demo_request", NOW - timedelta(minutes=30), id="demo"))
        copied, go_on = threading.Event(), threading.Event()
        store_class = type(service.store)
        real = store_class.append_all_new

        def paused(self: Any, conn: Any, rows: Any) -> bool:
            done = real(self, conn, rows)
            copied.set()
            # the bulk's transaction waits here, its rows copied and not committed, until the drain
            # below is done: a drain that waited for a lock of the bulk would never be
            if not go_on.wait(10):
                raise TimeoutError("the drain waited for the bulk request's COPY")
            return done

        monkeypatch.setattr(store_class, "append_all_new", paused)
        outcome: list[Any] = []
        bulk = threading.Thread(target=lambda: outcome.append(service.ingest_events(batch, defer=True)))
        bulk.start()
        try:
            assert copied.wait(30)
            drained = service.drain_pending()  # `a`, queued before: scored without the bulk's events
            go_on.set()
        finally:
            go_on.set()
            bulk.join(30)
        assert drained.taken == 1
        assert outcome and outcome[0].inserted == len(batch) and outcome[0].pending == 51
        before = service.lead("a")
        assert not before.current  # queued again by the bulk's commit
        assert before.result is not None and "demo-request" not in {b.rule for b in before.result.breakdown}
        while service.drain_pending().taken:
            pass
        assert mismatches(service.store, service.model) == []
        after = service.lead("a")
        assert after.current and after.result is not None and "demo-request" in {b.rule for b in after.result.breakdown}
    finally:
        service.close()
