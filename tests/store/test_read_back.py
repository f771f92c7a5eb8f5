"""`ingest_events(..., results=True)`: the results of the events' leads as the ingest committed them, read
in its transaction (on PostgreSQL's real-time path in the writes' round trip), equal to what `result()`
reads after it, on both stores: one event and a few, a duplicate, an event under an alias (identified
visitor), late events, and a batch large enough for the general path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from leadscore.domain import Event
from leadscore.store import ingest
from tests.store.conftest import BACKENDS
from tests.store.helpers import b2b_service, mismatches
from tests.store.test_pending import NOW


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_results_read_back_are_those_stored(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    few: list[int] = []
    original = ingest.ingest_few

    def counted(*args: object) -> object:
        few.append(1)
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "ingest_few", counted)
    clock = [NOW]
    service = b2b_service(kind, tmp_path, "back", request, clock)
    ago = lambda hours: NOW - timedelta(hours=hours)  # noqa: E731
    batches = [
        [Event.of("a", "page_view", ago(30), id="e1", path="/pricing")],
        [Event.of("a", "page_view", ago(30), id="e1", path="/pricing")],  # a duplicate alone
        [Event.of("a", "demo_request", ago(20)), Event.of("b", "page_view", ago(40), path="/blog")],
        [Event.of("visitor-1", "page_view", ago(19), path="/pricing")],
        [Event.of("a", "identify", ago(18), anonymous_id="visitor-1")],
        [Event.of("visitor-1", "content_download", ago(10))],  # under the alias: a's result
        [Event.of("b", "page_view", ago(50), path="/pricing")],  # late
        [Event.of(f"c{i % 7}", "page_view", ago(60 + i), path="/pricing") for i in range(40)],  # the general path
    ]
    try:
        for n, batch in enumerate(batches):
            clock[0] = NOW + timedelta(minutes=n)
            done = service.ingest_events(batch, results=True)
            assert done.results is not None
            wanted = {"a" if e.lead_id == "visitor-1" and n >= 4 else e.lead_id for e in batch}
            assert set(done.results) == wanted, n
            for lead, found in done.results.items():
                assert found == service.result(lead), (n, lead)
                assert found.at == (clock[0] if done.inserted else NOW)  # a duplicate rescores nothing
        assert len(few) == (6 if kind == "postgres" else 0)  # PostgreSQL's driver path did run
        assert mismatches(service.store, service.model) == []
        with pytest.raises(ValueError, match="deferred"):
            service.ingest_events(batches[0], defer=True, results=True)
    finally:
        service.close()
