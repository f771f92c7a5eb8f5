"""The bulk rescore's writes (`bulk.writeback`): what a rescore in parts hands back of its firings."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from leadscore.bulk.writeback import _counted
from leadscore.triggers.firings import TriggerFiring

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from leadscore.store.base import LeadStore


def test_the_parts_firings_are_the_firings_without_their_payloads() -> None:
    """Every field kept but the payload (made field by field: a field added to TriggerFiring must
    come through too)."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    firings = [
        TriggerFiring("to-mql", "l1", "crm", at, "stage_changed", "lead", "mql", {"data": {"x": 1}}, "trg_a"),
        TriggerFiring("jump", "l2", None, at, "score_changed", 10.0, 80.5, {"data": {}}, "trg_b"),
    ]
    got = _counted(firings)
    assert got == [dataclasses.replace(f, payload={}) for f in firings]
    assert len(dataclasses.fields(TriggerFiring)) == 9  # `_counted` names each one


def test_the_parts_write_drops_secure_delete_for_its_temporary_tables_only(tmp_path: Path) -> None:
    """`_page_cache`: inside the apply's transaction the temporary tables are dropped without
    overwriting their pages; the store's own file keeps `secure_delete` throughout (`erase`), and the
    pooled connection gets back its settings after."""
    from leadscore.bulk.writeback import _page_cache
    from leadscore.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        with store.write() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None

            def pragmas() -> tuple[int, int, int]:
                main = raw.execute("PRAGMA main.secure_delete").fetchone()[0]
                temp = raw.execute("PRAGMA temp.secure_delete").fetchone()[0]
                return main, temp, raw.execute("PRAGMA temp.cache_size").fetchone()[0]

            before = pragmas()
            assert before[:2] == (1, 1)
            with _page_cache(store, conn):
                assert pragmas()[:2] == (1, 0)
            assert pragmas() == before
    finally:
        store.dispose()


def test_the_postgres_write_transaction_hashes_and_sorts_in_memory_until_it_ends(store: LeadStore) -> None:
    """`_page_cache` on PostgreSQL: the write transaction's work_mem is `WRITE_WORK_MEM` (a part's
    loaded rows hashed and sorted in memory), and only that transaction's: the next one on the pooled
    connection has the server's again."""
    if store.name != "postgres":
        pytest.skip("PostgreSQL's work_mem (SQLite's settings: the test above)")
    from leadscore.bulk.write import WRITE_WORK_MEM
    from leadscore.bulk.writeback import _page_cache

    def work_mem(conn: Connection) -> str:
        return str(conn.exec_driver_sql("SELECT current_setting('work_mem')").scalar_one())

    with store.write() as conn:
        before = work_mem(conn)
        assert before != WRITE_WORK_MEM
        with _page_cache(store, conn):
            assert work_mem(conn) == WRITE_WORK_MEM
    with store.write() as conn:
        assert work_mem(conn) == before
