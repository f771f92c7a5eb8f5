"""A lifecycle `model apply` / `refresh` in parts of the leads (`bulk.lifecycle_parts`,
`writeback._rescore_parts`): the parts cover every lead once, and parts of 3 leads store exactly what
the pure path stores, in one transaction (all or nothing)."""

from __future__ import annotations

import gc
import weakref
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadscore.app.maintenance import apply
from leadscore.app.service import LeadService
from leadscore.bulk import lifecycle_split, writeback
from leadscore.bulk.lifecycle_parts import bounds, frozen_heap, lead_parts, part_queries, part_sizes
from leadscore.bulk.rescore import BatchRescored
from leadscore.bulk.writeback import rescore_store
from leadscore.domain import Event
from leadscore.model import parse_model
from leadscore.store import LeadStore
from leadscore.store.pipeline import Evaluator
from leadscore.store.tables import leads
from tests.bulk.test_lifecycle import RECYCLE, _both, assert_same_stores, snapshot
from tests.bulk.test_lifecycle import twins as twin_stores  # noqa: F401  (a fixture, by this name)
from tests.store.conftest import FixedClock
from tests.store.helpers import START

IDS = ["a", "A", "a'b", "b", "é", "z z", "Z", "0", "10", "9", "ß", "a-1", "a_1", "ab"]


def _ids(store: LeadStore, sql: str) -> list[str]:
    with store.read() as conn:
        return [str(r[0]) for r in conn.exec_driver_sql(sql)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 13, 14, 15, 100])
def test_the_parts_cover_every_lead_once_in_the_stores_order(store: LeadStore, size: int) -> None:
    """Quotes, case, accents, digits: whatever the store's collation orders, each lead falls in one part,
    of at most `size` leads; a subset (`ids`) is cut the same way."""
    with store.write() as conn:
        conn.execute(leads.insert(), [{"id": i, "attributes": {}, "created_at": 0, "updated_at": 0} for i in IDS])
    for subset in (None, "SELECT id FROM leads WHERE id <> 'b' AND id <> 'ß'"):
        wanted = set(IDS) if subset is None else set(IDS) - {"b", "ß"}
        parts = part_queries(bounds(store, subset, size), subset)
        got = [_ids(store, part) for part in parts]
        flat = [i for part in got for i in part]
        assert sorted(flat) == sorted(wanted)  # every lead, none twice
        assert all(0 < len(part) <= size for part in got)
        assert [len(part) for part in got] == part_sizes(len(wanted), size)
        assert (lead_parts(store, subset, size) is None) == (len(parts) == 1)


@pytest.mark.parametrize("size", [1, 2, 5, 14])
def test_the_one_scan_cuts_the_events_at_the_parts_bounds_as_each_parts_query_selects(
    store: LeadStore, size: int
) -> None:
    """`export_spill.part_of` compares ids byte by byte: on SQLite (BINARY collation) each id falls in the
    part whose query selects it, accents and case included."""
    import pyarrow as pa

    from leadscore.bulk.export_spill import part_of

    if store.sqlite_file() is None:
        pytest.skip("the one scan is SQLite's")
    with store.write() as conn:
        conn.execute(leads.insert(), [{"id": i, "attributes": {}, "created_at": 0, "updated_at": 0} for i in IDS])
    starts = bounds(store, None, size)
    expected = {i: k for k, part in enumerate(part_queries(starts, None)) for i in _ids(store, part)}
    got = part_of(pa.array(IDS, pa.string()), starts)
    assert dict(zip(IDS, got.tolist(), strict=True)) == expected


@pytest.mark.parametrize("size", [1, 2, 5, 14])
def test_the_databases_part_numbers_are_the_parts_each_query_selects(store: LeadStore, size: int) -> None:
    """`export.part_sql` (PostgreSQL's one scan) compares ids in the store's collation, as the parts'
    queries do: each id, accents and case included, gets the part whose query selects it."""
    from leadscore.bulk.export import part_sql

    with store.write() as conn:
        conn.execute(leads.insert(), [{"id": i, "attributes": {}, "created_at": 0, "updated_at": 0} for i in IDS])
    starts = bounds(store, None, size)
    expected = {i: k for k, part in enumerate(part_queries(starts, None)) for i in _ids(store, part)}
    with store.read() as conn:
        got = {str(r[0]): int(r[1]) for r in conn.exec_driver_sql(f"SELECT id, {part_sql(starts, 'id')} FROM leads")}
    assert got == expected


@pytest.mark.parametrize("size", range(1, 40))
def test_the_last_parts_are_smaller_none_is_empty_or_over_the_size(size: int) -> None:
    """`part_sizes`: every lead once, no part empty or over `size`, the sizes never rising; the last two
    parts' worth of leads in three parts (one part more) when that leaves none empty."""
    for total in range(400):
        got = part_sizes(total, size)
        n = -(-total // size)
        assert sum(got) == total and all(1 <= k <= size for k in got)
        assert got == sorted(got, reverse=True)
        assert len(got) == (n + 1 if n >= 3 and total - (n - 2) * size >= 3 else n)
    assert part_sizes(1_000_000, 100_000) == [100_000] * 8 + [80_000, 60_000, 60_000]
    assert part_sizes(100_000, 10_000) == [10_000] * 8 + [8_000, 6_000, 6_000]
    assert part_sizes(95_000, 10_000) == [10_000] * 8 + [6_000, 4_500, 4_500]
    assert part_sizes(20_000, 10_000) == [10_000, 10_000]  # two parts: as they were


def test_a_part_size_below_one_is_refused(store: LeadStore) -> None:
    with pytest.raises(ValueError, match="at least one lead"):
        bounds(store, None, 0)


def test_between_parts_collections_free_the_parts_cycles_and_leave_the_rest_to_after() -> None:
    """`frozen_heap`: what was alive before is left out of the collections between parts (frozen),
    a cycle a part leaves is still collected there, and everything is collected as before after it."""

    class Cycle:
        def __init__(self) -> None:
            self.me = self

    before = Cycle()
    gone = weakref.ref(before)
    del before  # garbage already: the first collection frees it, nothing frozen keeps it
    with frozen_heap():
        assert gone() is None and gc.get_freeze_count() > 0
        part = weakref.ref(Cycle())
        gc.collect()
        assert part() is None
    assert gc.get_freeze_count() == 0


@pytest.fixture
def in_parts(monkeypatch: pytest.MonkeyPatch, twin_stores: tuple[LeadStore, LeadStore]) -> tuple[LeadStore, LeadStore]:  # noqa: F811
    """`test_lifecycle`'s twins in parts of 3 leads (60 leads: 21 parts, the last three of 3, 2 and 1),
    through DuckDB on PostgreSQL too (not the in-database path)."""
    pair = twin_stores
    monkeypatch.setattr(writeback, "PART_LEADS", 3)
    for s in pair:
        monkeypatch.setattr(type(s), "in_database_rescore", False)
    return pair


FEW = 10  # leads a part in `in_few_parts`: 7 parts of the 60 (`part_sizes`: 4 of 10, then 8, 6 and 6)


@pytest.fixture
def in_few_parts(monkeypatch: pytest.MonkeyPatch, in_parts: tuple[LeadStore, LeadStore]) -> tuple[LeadStore, LeadStore]:
    """`in_parts` in parts of FEW leads: 7 parts, three or four for each preparing process. For the tests of a
    part that fails, needs the pure scorer or is interrupted: what they check (the parts before it
    rolled back, the error, the processes stopped, the apply that follows equal to the pure path)
    needs a few parts before and after the one that fails, not 21. A part costs about the same at 3
    leads as at 10 (~0.3 CPU s: its DuckDB run, queries and hand-over), so 7 parts cost a third of 21;
    the parts of 3 leads against the pure path are `test_apply_then_refresh_in_parts_...`'s."""
    monkeypatch.setattr(writeback, "PART_LEADS", FEW)
    return in_parts


@pytest.mark.slow
def test_apply_then_refresh_in_parts_store_what_the_pure_path_stores(
    in_parts: tuple[LeadStore, LeadStore], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = _both(in_parts, clock, RECYCLE)
    assert done.seconds["parts"] == 21
    # every part's events from the one scan (`export_spill`), on PostgreSQL numbered by the database
    assert "export_events" in done.seconds
    assert done.history_leads > 0 and done.fallback_leads == 0
    # the firings (their keys the pure path's, `_both`) come back without payloads: those are in the outbox
    assert done.firings and all(f.payload == {} for f in done.firings)
    rows = assert_same_stores(*in_parts)
    assert rows["stage_history"] and rows["outbox"]
    # what follows in parts of FEW leads: still in parts (the refreshes' 47 and 46 due leads in 6, the
    # apply again in 7), at a third of the parts' CPU; the parts of 3 leads are the first apply's
    monkeypatch.setattr(writeback, "PART_LEADS", FEW)
    clock.advance(days=3)
    assert _both(in_parts, clock, RECYCLE, "refresh").seconds["parts"] == 6
    assert_same_stores(*in_parts)
    clock.advance(days=40)
    assert _both(in_parts, clock, RECYCLE, "refresh").seconds["parts"] == 6
    assert_same_stores(*in_parts)
    done = _both(in_parts, clock, RECYCLE)  # again at the same time: nothing moves, nothing fires
    assert done.changed == 0 and not done.firings and done.seconds["parts"] == 7
    assert_same_stores(*in_parts)


def test_a_part_that_needs_the_pure_scorer_leaves_the_store_as_it_was(
    in_few_parts: tuple[LeadStore, LeadStore], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parts before it were written in the same transaction: it rolls back whole, activation
    included, and `model apply` takes the pure path. (The parts prepared in this process, where the
    split patched here runs; the process that prepares them ahead answers the same way.)"""
    fast, pure = in_few_parts
    monkeypatch.setattr(writeback, "AHEAD", False)
    real = lifecycle_split.split
    calls: list[int] = []

    def split(run: Any, evaluator: Evaluator, at: int) -> int | None:
        calls.append(1)
        return None if len(calls) == 5 else real(run, evaluator, at)

    monkeypatch.setattr(lifecycle_split, "split", split)
    before = snapshot(fast)
    at = int(clock.now.timestamp() * 1e6)
    marker = sa.text("INSERT INTO outbox_meta_probe VALUES (1)")  # never reached: the fifth part gives up
    done = rescore_store(fast, Evaluator(parse_model(RECYCLE)), at, "model:x", activation=[marker])
    assert done is None and len(calls) == 5
    assert snapshot(fast) == before
    calls.clear()
    monkeypatch.setattr(lifecycle_split, "split", real)
    evaluator = Evaluator(parse_model(RECYCLE))
    result = apply(fast, evaluator, lambda: at)
    assert isinstance(result, BatchRescored)
    apply(pure, evaluator, lambda: at, bulk=False)
    assert_same_stores(fast, pure)


@pytest.mark.parametrize(("lead", "ahead"), [("L0002", True), ("L0058", True), ("L0058", False)])
def test_a_value_the_one_scan_cannot_type_sends_the_apply_to_the_pure_path(
    in_few_parts: tuple[LeadStore, LeadStore],
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lead: str,
    ahead: bool,
) -> None:
    """A nested value of a property the model reads, in one lead's events: the export cannot type it
    (`export.Unsupported`, raised when that lead's part is typed: in the process preparing it, or here
    without it; the one scan keeps the rows as read), so nothing is written in bulk, the parts written
    before it included, and the pure path rescores every lead, as without parts."""
    monkeypatch.setattr(writeback, "AHEAD", ahead)
    nested = Event(lead, "page_view", START + timedelta(days=3), {"path": {"deep": "/pricing"}}, "nested-1")
    for s in in_few_parts:
        LeadService(s, model_path=tmp_path / "model.yaml", clock=clock).ingest_events([nested])
    evaluator = Evaluator(parse_model(RECYCLE))
    at = int(clock.now.timestamp() * 1e6)
    done = apply(in_few_parts[0], evaluator, lambda: at)
    assert not isinstance(done, BatchRescored)
    apply(in_few_parts[1], evaluator, lambda: at, bulk=False)
    assert_same_stores(*in_few_parts)


def _corrupt_part(monkeypatch: pytest.MonkeyPatch, part: int) -> None:
    """The one scan's files of `part` overwritten with bytes that are no Arrow stream."""
    real = writeback._spill

    def spill(*args: Any) -> Any:
        got = real(*args)
        assert got is not None and got.files.get(part)
        for path in got.files[part]:
            path.write_bytes(b"not an arrow stream")
        return got

    monkeypatch.setattr(writeback, "_spill", spill)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_parts_prepared_by_several_processes_in_turn_are_received_in_order(
    in_parts: tuple[LeadStore, LeadStore], clock: FixedClock, monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    """`lifecycle_ahead.Preparers`: part k prepared by process k % n, every part received in order, and
    the store what the pure path stores, row by row, whatever the number of processes (1: one
    process prepares every part, the schedule before)."""
    from leadscore.bulk import lifecycle_ahead

    monkeypatch.setattr(lifecycle_ahead, "PREPARERS", n)
    monkeypatch.setattr(writeback, "PART_LEADS", 10)  # 7 parts: three or more for each process
    received: list[tuple[int, int]] = []  # (the child's process id, the part)
    real = lifecycle_ahead.Ahead.receive

    def receive(self: Any, part: int, handed_over: Any = None) -> Any:
        received.append((self.proc.pid, part))
        return real(self, part, handed_over)

    steps: list[tuple[str, int]] = []  # ("send", part) and ("load", k): the k-th part loaded here
    real_send, real_load = lifecycle_ahead.Ahead.send, lifecycle_ahead.load

    def send(self: Any, part: int, ids: str, files: list[Path]) -> None:
        steps.append(("send", part))
        real_send(self, part, ids, files)

    def load(reply: Any) -> Any:
        steps.append(("load", sum(1 for what, _ in steps if what == "load")))
        return real_load(reply)

    monkeypatch.setattr(lifecycle_ahead.Ahead, "receive", receive)
    monkeypatch.setattr(lifecycle_ahead.Ahead, "send", send)
    monkeypatch.setattr(lifecycle_ahead, "load", load)
    done = _both(in_parts, clock, RECYCLE)
    assert done.seconds["parts"] == 7 and done.seconds["ahead_cpu"] > 0
    assert [part for _, part in received] == list(range(7))
    pids = [pid for pid, _ in received]
    assert len(set(pids)) == n and all(pids[k] == pids[k % n] for k in range(7))
    # part k + n asked for as soon as part k was handed over, before part k is loaded here
    assert sorted(part for what, part in steps if what == "send") == list(range(7))
    for k in range(7 - n):
        assert steps.index(("send", k + n)) < steps.index(("load", k))
    rows = assert_same_stores(*in_parts)
    assert rows["stage_history"] and rows["outbox"]


def test_an_interrupted_apply_in_parts_leaves_no_process_preparing_them(
    in_few_parts: tuple[LeadStore, LeadStore], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while a part is written here, the next ones being prepared: the transaction rolls back and
    every preparing process is stopped and waited for."""
    from leadscore.bulk import lifecycle_ahead

    fast, _ = in_few_parts
    started: list[Any] = []
    real_send, real_write = lifecycle_ahead.Ahead.send, writeback._write_part

    def send(self: Any, part: int, ids: str, files: list[Path]) -> None:
        started.append(self.proc)
        real_send(self, part, ids, files)

    def write(*args: Any) -> BatchRescored:
        if len(started) > 3:  # a few parts written
            raise KeyboardInterrupt
        return real_write(*args)

    monkeypatch.setattr(lifecycle_ahead.Ahead, "send", send)
    monkeypatch.setattr(writeback, "_write_part", write)
    before = snapshot(fast)
    at = int(clock.now.timestamp() * 1e6)
    with pytest.raises(KeyboardInterrupt):
        rescore_store(fast, Evaluator(parse_model(RECYCLE)), at, "model:x")
    assert snapshot(fast) == before
    assert len({proc.pid for proc in started}) == lifecycle_ahead.PREPARERS
    assert all(proc.poll() is not None for proc in started)


# each way of failing in one of the two preparing processes (part 4: the first child's third part, 5: the
# second's), on each store: the cases of a suite that must stay short (the four combinations ran 10-11 s
# each per store); the code that handles an error and a killed process does not depend on which child
@pytest.mark.parametrize(("how", "part"), [("error", 4), ("killed", 5)])
def test_a_part_that_fails_in_the_process_preparing_it_leaves_the_store_as_it_was(
    in_few_parts: tuple[LeadStore, LeadStore], clock: FixedClock, monkeypatch: pytest.MonkeyPatch, how: str, part: int
) -> None:
    """The next parts are prepared in other processes (`lifecycle_ahead`) while this one is written.
    When that fails (an error there, or the process ends), in any of them, the apply raises a
    StoreError that says which part and why, every part written before it rolls back with the
    activation, no process is left behind, and the apply can run again."""
    from leadscore.bulk import lifecycle_ahead
    from leadscore.store.base import StoreError

    fast, pure = in_few_parts
    started: list[Any] = []
    real_send = lifecycle_ahead.Ahead.send
    failing = part

    def send(self: Any, part: int, ids: str, files: list[Path]) -> None:
        started.append(self.proc)
        real_send(self, part, ids, files)
        if how == "killed" and part == failing:
            self.proc.kill()

    monkeypatch.setattr(lifecycle_ahead.Ahead, "send", send)
    if how == "error":
        _corrupt_part(monkeypatch, part)
    before = snapshot(fast)
    at = int(clock.now.timestamp() * 1e6)
    marker = sa.text("INSERT INTO outbox_meta_probe VALUES (1)")  # never reached: a part fails
    with pytest.raises(StoreError, match=f"part {part}") as failed:
        rescore_store(fast, Evaluator(parse_model(RECYCLE)), at, "model:x", activation=[marker])
    assert isinstance(failed.value, lifecycle_ahead.PartFailed)
    if how == "error":
        assert "ArrowInvalid" in str(failed.value) and "Traceback" in failed.value.detail
    else:
        assert "ended" in str(failed.value) and "exit code -9" in str(failed.value)
    assert snapshot(fast) == before
    assert started and all(proc.poll() is not None for proc in started)  # waited for, none left running
    monkeypatch.undo()
    monkeypatch.setattr(writeback, "PART_LEADS", FEW)
    for s in in_few_parts:
        monkeypatch.setattr(type(s), "in_database_rescore", False)
    evaluator = Evaluator(parse_model(RECYCLE))
    assert isinstance(apply(fast, evaluator, lambda: at), BatchRescored)
    apply(pure, evaluator, lambda: at, bulk=False)
    assert_same_stores(fast, pure)


def test_paused_collections_pause_and_restore_the_collector() -> None:
    """Collections paused inside (the history pass), the collector as it was after, an error too."""
    from leadscore.bulk.lifecycle_parts import paused_collections

    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            with paused_collections():
                assert not gc.isenabled()
            assert gc.isenabled() == enabled
        gc.enable()
        with pytest.raises(RuntimeError), paused_collections():
            raise RuntimeError("stopped")
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
