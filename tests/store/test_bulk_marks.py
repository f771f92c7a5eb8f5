"""A bulk batch's leads and queue marks on SQLite: one statement each over the ids as one JSON array
(`leads_repo.ids_json`, `json_each`), where a few ids keep the executemany. The ids stored are the ids
sent, character for character, whatever JSON must escape in them, as the few-at-a-time path stores them."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.service import LeadService
from leadscore.domain import Event
from leadscore.store.leads_repo import MANY_IDS
from leadscore.store.tables import leads, pending_rescore
from tests.app.test_committer_append import pair  # noqa: F401  (two stores of one backend, one clock)

AWKWARD = ('q"uote', "back\\slash", "tab\there", "line\nbreak", "é-ü", "\u2028sep", "emoji-\U0001f600")
AWKWARD += ("null", "123", "[1]")


def _ids() -> list[str]:
    return [*AWKWARD, *(f"L{i:04d}" for i in range(3 * MANY_IDS))]


def _rows(service: LeadService) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with service.store.read() as conn:
        return (
            [tuple(r) for r in conn.execute(sa.select(leads).order_by(leads.c.id))],
            [tuple(r) for r in conn.execute(sa.select(pending_rescore).order_by(pending_rescore.c.lead_id))],
        )


def test_a_bulk_batchs_leads_and_marks_hold_the_ids_sent(
    pair: tuple[LeadService, LeadService],  # noqa: F811
) -> None:
    bulk, few = pair
    batch = [Event.of(lead, "page_view", "2026-05-30", id=f"e{n}") for n, lead in enumerate(_ids() * 2)]
    statements: list[tuple[str, bool]] = []

    def seen(_conn: Any, _cur: Any, statement: str, _params: Any, _context: Any, executemany: bool) -> None:
        statements.append((statement, executemany))

    sa.event.listen(bulk.store.engine, "before_cursor_execute", seen)
    try:
        bulk.ingest_events(batch, defer=True)
    finally:
        sa.event.remove(bulk.store.engine, "before_cursor_execute", seen)
    for start in range(0, len(batch), 8):
        few.ingest_events(batch[start : start + 8], defer=True)
    got = _rows(bulk)
    assert got == _rows(few)
    assert sorted(row[0] for row in got[0]) == sorted(_ids())
    assert sorted(row[0] for row in got[1]) == sorted(_ids())
    if bulk.store.name == "sqlite":
        writes = [(sql.split("(")[0].strip(), many) for sql, many in statements if " INTO leads " in sql]
        writes += [(sql.split("(")[0].strip(), many) for sql, many in statements if " INTO pending_rescore " in sql]
        assert writes == [("INSERT INTO leads", False), ("INSERT INTO pending_rescore", False)]


@pytest.mark.parametrize("count", [2, MANY_IDS])
def test_a_few_leads_keep_the_executemany(pair: tuple[LeadService, LeadService], count: int) -> None:  # noqa: F811
    bulk, _ = pair
    if bulk.store.name != "sqlite":
        pytest.skip("SQLite's statements")
    batch = [Event.of(f"L{i}", "page_view", "2026-05-30", id=f"e{i}-{n}") for i in range(count) for n in range(20)]
    many: list[bool] = []

    def seen(_conn: Any, _cur: Any, statement: str, _params: Any, _context: Any, executemany: bool) -> None:
        if "INTO pending_rescore" in statement:
            many.append(executemany)

    sa.event.listen(bulk.store.engine, "before_cursor_execute", seen)
    try:
        bulk.ingest_events(batch, defer=True)
    finally:
        sa.event.remove(bulk.store.engine, "before_cursor_execute", seen)
    assert many == [True]
    assert len(_rows(bulk)[1]) == count
