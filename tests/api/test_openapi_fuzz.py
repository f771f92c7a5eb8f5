"""Schemathesis over the whole OpenAPI document against a real server, with an admin key: no
server error and no response that breaks the document, on every operation.

Examples are bounded (a few dozen per operation, positive and negative data) so the run takes a
minute or two; the server is a real `leadscore serve` process on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis

# Imported here, at collection, rather than lazily inside `from_url` while the test's server threads
# run: pytest rewrites the plugin's modules as they are imported, and CPython 3.11's parser can then
# raise a spurious "AST constructor recursion depth mismatch" SystemError (python/cpython#106905).
import schemathesis.specs.openapi.schemas
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import load_all_checks
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.api.conftest import Live
from tests.api.server import Server, create_key, make_workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_EXAMPLES = 25


def _seed(live: Live) -> None:
    """A few leads with events, so reads find something and writes have something to change."""
    with live.client("admin") as client:
        events = [
            {"lead_id": f"lead-{i}", "type": t, "timestamp": "2026-05-30T10:00:00Z", "properties": {"path": "/pricing"}}
            for i in range(5)
            for t in ("page_view", "demo_request")
        ]
        assert client.post("/v1/events/bulk", json={"events": events}).status_code == 200
        assert client.put("/v1/leads/lead-0", json={"attributes": {"employees": 300, "email": "a@acme.com"}}).is_success


@pytest.fixture(params=["sqlite", "postgres"])
def backend_live(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """A server with keys of every scope, on SQLite or PostgreSQL."""
    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    store = None
    if request.param == "postgres":
        from tests.store.conftest import fresh_database_url

        store = fresh_database_url("postgres", tmp_path, request, migrated=True)
    root = make_workspace(tmp_path / "ws", store)
    keys = {"admin": create_key(root, "admin", "admin")}
    server = Server(root).start()
    try:
        yield Live(server.url, root, keys)
    finally:
        server.stop()
    assert "Traceback" not in (root / "server.log").read_text(errors="replace")


def test_every_operation_keeps_to_the_document(backend_live: Live) -> None:
    live = backend_live
    _seed(live)
    load_all_checks()
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {live.keys['admin']}"}
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25
    with httpx.Client(timeout=60) as probe:
        assert probe.get(live.url + "/health").status_code == 200
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE) | operation.as_strategy(
            generation_mode=schemathesis.GenerationMode.NEGATIVE
        )

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def check(case: schemathesis.Case) -> None:
            # A valid request may still be refused for what it names (an unknown lead is a 404), so
            # "every valid request succeeds" is not a check here; everything else is.
            excluded = [positive_data_acceptance]
            if (case.query or {}).get("partial") in (True, "true"):
                # `partial=true` keeps the good items of a request with bad ones: that is its contract
                excluded.append(negative_data_rejection)
            case.call_and_validate(base_url=live.url, headers=headers, excluded_checks=excluded)

        try:
            check()
        except Exception as exc:  # collect every operation's failure, not only the first
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    assert not failures, "\n\n".join(failures)
