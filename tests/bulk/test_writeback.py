"""The bulk rescore's writes (`bulk.writeback`): what a rescore in parts hands back of its firings."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from leadscore.bulk.writeback import _counted
from leadscore.triggers.firings import TriggerFiring


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
