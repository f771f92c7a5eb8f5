"""A bulk deferred ingest (one batch of a thousand events: the key look-up, SQLite's executemany,
PostgreSQL's COPY, the leads and queue marks as set-based statements) leaves the tables that the same
events leave sent a few at a time (each a multi-row INSERT ... RETURNING without the look-up), row for
row: events in seq order (the same seq on SQLite), properties as stored text, leads, aliases, the
rescoring queue."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event, event_key
from leadscore.domain.timeutil import to_micros
from leadscore.store import ingest
from leadscore.store.tables import aliases, leads, pending_rescore
from tests.app.test_committer_append import AT, pair  # noqa: F401  (two stores of one backend, one clock)


def _events(seed: int, count: int) -> list[Event]:
    """Many leads and ids: duplicates within the batch, an identified visitor's id (an alias), text
    needing JSON escapes, nested properties, numbers of both kinds."""
    rnd = random.Random(seed)
    out = []
    for n in range(count):
        lead = rnd.choice(("visitor-1", *(f"L{i}" for i in range(150))))
        props: dict[str, Any] = {"path": rnd.choice(("/p", "/blog", 'q"é\n\u2028')), "n": n % 7}
        if n % 5 == 0:
            props["deep"] = {"list": [1, 2.5, None, "x"], "flag": True}
        event_id = rnd.choice((None, f"u{rnd.randrange(600)}", f"id-{n}"))
        day = rnd.choice(("2026-05-29", "2026-05-30T10:00:00+02:00", "2026-05-30T10:00:00.123456Z"))
        out.append(Event.of(lead, rnd.choice(("page_view", "email_click")), day, id=event_id, **props))
    return out


def _tables(service: LeadService) -> dict[str, list[tuple[Any, ...]]]:
    with service.store.read() as conn:
        raw = "SELECT seq, event_key, lead_id, received_lead_id, type, ts, properties, ingested_at FROM events"
        return {
            # properties as the database returns them (text on SQLite, jsonb's text on PostgreSQL)
            "events": [tuple(r) for r in conn.exec_driver_sql(raw + " ORDER BY seq")],
            "leads": [tuple(r) for r in conn.execute(sa.select(leads).order_by(leads.c.id))],
            "aliases": [tuple(r) for r in conn.execute(sa.select(aliases).order_by(aliases.c.alias))],
            "pending": [tuple(r) for r in conn.execute(sa.select(pending_rescore).order_by(pending_rescore.c.lead_id))],
        }


@pytest.mark.parametrize("repeats", [True, False])
def test_a_bulk_batch_leaves_the_tables_of_small_batches(
    pair: tuple[LeadService, LeadService],  # noqa: F811
    repeats: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`repeats`: the bulk batch holds stored events (the key look-up finds them after the whole
    append was tried and undone); else it is appended whole, with no look-up."""
    bulk, few = pair
    # first, on both: an identified visitor (an alias) and some events the bulk batch may repeat
    first = [Event.of("L0", "identify", "2026-05-28", anonymous_id="visitor-1"), *_events(1, 40)]
    for service in pair:
        service.ingest_events(first)
    batch = (first[5:25] if repeats else []) + _events(2, 1200)
    assert len(batch) > ingest.FEW
    appended: list[bool] = []
    whole = type(bulk.store).append_all_new

    def spy(store: Any, conn: Any, rows: Any) -> bool:
        appended.append(whole(store, conn, rows))
        return appended[-1]

    monkeypatch.setattr(type(bulk.store), "append_all_new", spy)
    done = bulk.ingest_events(batch, defer=True)
    assert appended == [not repeats]
    for start in range(0, len(batch), ingest.FEW):
        few.ingest_events(batch[start : start + ingest.FEW], defer=True)
    got, expected = _tables(bulk), _tables(few)
    if bulk.store.name == "postgres":  # a sequence value is spent by a row its conflict clause skipped:
        for table in (got, expected):  # the order of seq is compared, not its gaps
            table["events"] = [(rank, *row[1:]) for rank, row in enumerate(table["events"])]
    assert got == expected
    assert done.inserted == len(got["events"]) - len({(event_key(e), e.lead_id) for e in first})
    # the statements both paths share, checked on their own: every lead of a new event created
    # without attributes, and queued once, at the batch's time
    at = to_micros(AT)
    assert {row[0] for row in got["pending"]} == {row[2] for row in got["events"][-done.inserted :]}
    assert {row[1] for row in got["pending"]} == {at}
    assert {row[0] for row in got["leads"]} == {row[2] for row in got["events"]}
    if bulk.store.name == "sqlite":  # the text stored is json.dumps's, byte for byte
        stored: dict[tuple[str, str], Event] = {}
        for e in first + batch:  # the first event of each identity is the one stored
            stored.setdefault((event_key(e), e.lead_id), e)
        for _, key, _, received, *_, properties, _ in got["events"]:
            assert properties == json.dumps(dict(stored[key, received].properties))


def test_a_bulk_batch_with_an_identify_event_leaves_the_tables_of_the_exact_path(
    pair: tuple[LeadService, LeadService],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bulk batch holding an identify event (a visitor merged into a lead in the batch's transaction)
    is appended whole, then goes on with its rows as dicts: the same tables as the same batch taking
    the exact path (the append refused: the key look-up, then the insert of the unstored rows)."""
    whole, exact = pair
    first = [Event.of("L0", "identify", "2026-05-28", anonymous_id="visitor-1"), *_events(1, 40)]
    for service in pair:
        service.ingest_events(first)
    batch = _events(3, 1200)
    batch[600:600] = [
        Event.of("visitor-2", "page_view", "2026-05-29", path="/before"),
        Event.of("L3", "identify", "2026-05-30", anonymous_id="visitor-2"),
        Event.of("visitor-2", "page_view", "2026-05-31", path="/after"),
    ]
    appended: list[bool] = []
    append = type(whole.store).append_all_new

    def spy(store: Any, conn: Any, rows: Any) -> bool:
        appended.append(append(store, conn, rows) if store is whole.store else False)
        return appended[-1]

    monkeypatch.setattr(type(whole.store), "append_all_new", spy)
    done = whole.ingest_events(batch, defer=True)
    done_exact = exact.ingest_events(batch, defer=True)
    assert appended == [True, False]
    got, expected = _tables(whole), _tables(exact)
    if whole.store.name == "postgres":  # the order of seq is compared, not its gaps
        for table in (got, expected):
            table["events"] = [(rank, *row[1:]) for rank, row in enumerate(table["events"])]
    assert got == expected
    assert done == done_exact
    assert ("visitor-2", "L3") in {row[:2] for row in got["aliases"]}
