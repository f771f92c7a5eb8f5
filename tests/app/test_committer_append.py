"""The committer's driver-level append of deferred events (`leadscore.store.queued_append.append_queued`)
leaves the same tables, row for row, as the service's deferred ingest it stands in for."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.committer import GroupCommitter
from leadscore.app.errors import InvalidInput
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace
from leadscore.domain import Event
from leadscore.store.tables import aliases, events, leads, pending_rescore
from tests.api.server import make_workspace
from tests.store.conftest import BACKENDS, fresh_database_url, postgres_template  # noqa: F401 (a fixture)

AT = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[LeadService, LeadService]]:
    """Two services on two new stores of one backend, with one fixed clock."""
    made = []
    for name in ("fast", "ordinary"):
        url = None if request.param == "sqlite" else fresh_database_url("postgres", tmp_path, request, migrated=True)
        root = make_workspace(tmp_path / name, url)
        made.append(LeadService.from_workspace(Workspace.load(root), clock=lambda: AT))
    yield made[0], made[1]
    for service in made:
        service.close()


def _batches(seed: int, count: int) -> list[list[Event]]:
    """Small batches over few leads and ids: duplicates within a batch and of stored events, events
    under an identified visitor's id (an alias), identifies, and now and then a number out of range."""
    rnd = random.Random(seed)
    out = []
    for _ in range(count):
        batch = []
        for _ in range(rnd.choice((1, 1, 1, 2, 5))):
            # ids with what JSON and PostgreSQL's array literals quote: the append sends them as JSON text
            lead = rnd.choice(("a", "b", 'q"{x,y}\\z', "ü 😀", "visitor-1", "visitor-2"))
            props: dict[str, Any] = {"path": rnd.choice(("/p", "/blog", 'ü"\\')), "n": {"deep": [1, 2.5, None, "x"]}}
            kind = rnd.random()
            if kind < 0.08:
                visitor = rnd.choice(("visitor-1", "visitor-2"))
                batch.append(Event.of("a", "identify", "2026-05-30", anonymous_id=visitor))
                continue
            if kind < 0.12:
                props["amount"] = 2**60  # refused by the service: the whole batch with it
            event_id = rnd.choice((None, "e1", 'e"\\{2}', f"u{rnd.randrange(40)}"))
            day = rnd.choice(("2026-05-29", "2026-05-30T10:00:00+02:00"))
            batch.append(Event.of(lead, "page_view", day, id=event_id, **props))
        out.append(batch)
    return out


def _tables(service: LeadService) -> dict[str, list[tuple[Any, ...]]]:
    with service.store.read() as conn:
        return {
            "events": [
                tuple(r) for r in conn.execute(sa.select(events).order_by(events.c.seq))
            ],  # seq included: the same input order
            "leads": [tuple(r) for r in conn.execute(sa.select(leads).order_by(leads.c.id))],
            "aliases": [tuple(r) for r in conn.execute(sa.select(aliases).order_by(aliases.c.alias))],
            "pending": [tuple(r) for r in conn.execute(sa.select(pending_rescore).order_by(pending_rescore.c.lead_id))],
        }


def test_the_append_leaves_the_tables_the_service_leaves(pair: tuple[LeadService, LeadService]) -> None:
    fast, ordinary = pair
    committer = GroupCommitter(fast, defer=True)
    took_fast = 0
    real = fast.ingest_events

    def counted(batch: Any, **options: Any) -> Any:
        nonlocal took_fast
        took_fast -= 1  # the service's path, taken instead of the append
        return real(batch, **options)

    fast.ingest_events = counted  # type: ignore[method-assign]
    try:
        for batch in _batches(7, 60):
            took_fast += 1
            try:
                got = committer.ingest(batch)
            except InvalidInput as exc:
                with pytest.raises(InvalidInput) as refused:
                    ordinary.ingest_events(batch, defer=True)
                assert str(refused.value) == str(exc)
                continue
            want = ordinary.ingest_events(batch, defer=True)
            assert (got.received, got.inserted, got.pending) == (want.received, want.inserted, want.pending)
    finally:
        committer.close()
    assert took_fast > 30  # most batches took the append (identifies and refusals did not)
    assert _tables(fast) == _tables(ordinary)
    assert _tables(fast)["aliases"]  # the identifies merged visitors, whose later events went to the lead


@pytest.mark.integration
def test_a_refused_append_writes_nothing_and_the_connection_goes_on(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """On PostgreSQL the append is one implicit transaction of pipelined statements, committed by its
    Sync, on a connection in autocommit: when its last statement fails (a NUL, which jsonb refuses), the
    lead its first statement created is gone too, the next append on the pooled connection commits as
    usual, and the connection leaves the pool out of autocommit again."""
    url = fresh_database_url("postgres", tmp_path, request, migrated=True)
    service = LeadService.from_workspace(Workspace.load(make_workspace(tmp_path / "ws", url)), clock=lambda: AT)
    committer = GroupCommitter(service, defer=True)
    try:
        with pytest.raises(Exception, match="0000"):
            committer.ingest([Event.of("refused", "page_view", "2026-05-30", path="a\x00b")])
        assert all(not rows for rows in _tables(service).values())
        done = committer.ingest([Event.of("kept", "page_view", "2026-05-30", path="/p")])
        assert (done.inserted, done.pending) == (1, 1)
        tables = _tables(service)
        assert [row[0] for row in tables["leads"]] == ["kept"] and [row[0] for row in tables["pending"]] == ["kept"]
        # the pooled connection goes back out of autocommit: the store's other writers need transactions
        assert service.store.engine.pool.checkedin() == 1
        with service.store.write() as conn:
            assert conn.connection.driver_connection.autocommit is False
    finally:
        committer.close()
        service.close()
