"""The results' secondary indexes left out of a lifecycle apply in parts on SQLite and built again at its
end (`bulk.results_indexes`): the same schema after it, the same rows as the pure path, and the indexes
back as they were when the apply rolls back."""

from __future__ import annotations

from typing import Any

import pytest

from leadscore.bulk import results_indexes, writeback
from leadscore.bulk.results_indexes import worth_it
from leadscore.bulk.writeback import rescore_store
from leadscore.model import parse_model
from leadscore.store import LeadStore
from leadscore.store.pipeline import Evaluator
from tests.bulk.test_lifecycle import B2B, _both, assert_same_stores, snapshot
from tests.bulk.test_lifecycle import twins as twin_stores  # noqa: F401  (a fixture, by this name)
from tests.store.conftest import FixedClock

FEW = 10  # leads a part: 7 parts of the 60 leads


def _schema(store: LeadStore) -> list[tuple[Any, ...]]:
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name = 'results' ORDER BY name"
            )
        ]


@pytest.fixture
def sqlite_parts(
    monkeypatch: pytest.MonkeyPatch,
    twin_stores: tuple[LeadStore, LeadStore],  # noqa: F811
) -> tuple[LeadStore, LeadStore]:
    fast, pure = twin_stores
    if fast.name != "sqlite":
        pytest.skip("the indexes are left out on SQLite only")
    monkeypatch.setattr(writeback, "PART_LEADS", FEW)
    return fast, pure


def test_a_part_moving_half_its_leads_or_more_predicts_an_apply_worth_the_build() -> None:
    assert worth_it(10, 5) and worth_it(10, 10) and worth_it(1, 1)
    assert not worth_it(10, 4) and not worth_it(0, 0) and not worth_it(1, 0)


def test_dropped_indexes_are_made_again_as_they_were(sqlite_parts: tuple[LeadStore, LeadStore]) -> None:
    """The schema's three, one of an odd name, not a unique one (its check is each write's to make)."""
    store = sqlite_parts[0]
    with store.write() as conn:
        conn.exec_driver_sql('CREATE INDEX "odd ""name" ON results (evaluated_at)')
        conn.exec_driver_sql("CREATE UNIQUE INDEX one_each ON results (lead_id, model)")
    before = _schema(store)
    with store.read() as conn:
        names = [n for n, _ in results_indexes.secondary(conn.connection.driver_connection)]
    assert set(names) == {"ix_results_next_change_at", "ix_results_queue", "ix_results_stage_queue", 'odd "name'}
    with store.write() as conn:
        raw = conn.connection.driver_connection
        dropped = results_indexes.drop(raw)
        assert results_indexes.secondary(raw) == []
        results_indexes.rebuild(raw, dropped)
    assert _schema(store) == before


@pytest.mark.slow
def test_an_apply_in_parts_without_the_indexes_stores_what_the_pure_path_stores(
    sqlite_parts: tuple[LeadStore, LeadStore], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, _ = sqlite_parts
    before = _schema(fast)
    calls: list[str] = []
    drop, rebuild = results_indexes.drop, results_indexes.rebuild
    monkeypatch.setattr(results_indexes, "drop", lambda raw: calls.append("drop") or drop(raw))
    monkeypatch.setattr(results_indexes, "rebuild", lambda raw, d: calls.append("rebuild") or rebuild(raw, d))
    done = _both(sqlite_parts, clock, B2B)
    assert done.seconds["parts"] == 7 and done.changed > done.leads // 2
    assert calls == ["drop", "rebuild"]  # after the first part, once; built again at the end
    assert_same_stores(*sqlite_parts)
    assert _schema(fast) == before
    # again at the same time: nothing moves, so the indexes stay through the writes
    calls.clear()
    done = _both(sqlite_parts, clock, B2B)
    assert done.changed == 0 and calls == []
    assert_same_stores(*sqlite_parts)
    assert _schema(fast) == before


def test_an_apply_that_fails_after_the_drop_leaves_the_indexes_as_they_were(
    sqlite_parts: tuple[LeadStore, LeadStore], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, _ = sqlite_parts
    before, rows = _schema(fast), snapshot(fast)
    rebuild = results_indexes.rebuild
    failed: list[int] = []

    def fail(raw: Any, dropped: list[tuple[str, str]]) -> None:
        failed.append(len(dropped))
        assert results_indexes.secondary(raw) == []  # dropped, in the transaction
        raise RuntimeError("stopped before the build")

    monkeypatch.setattr(results_indexes, "rebuild", fail)
    at = int(clock.now.timestamp() * 1e6)
    with pytest.raises(RuntimeError, match="stopped before the build"):
        rescore_store(fast, Evaluator(parse_model(B2B)), at, "model:x")
    assert failed and failed[0] >= 3
    assert _schema(fast) == before and snapshot(fast) == rows
    monkeypatch.setattr(results_indexes, "rebuild", rebuild)
