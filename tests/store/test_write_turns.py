"""SQLite writers take turns (leadscore.store.write_turns): a waiting writer starts when the holder lets
go, between threads and between processes, and never waits longer than its bound for a turn."""

from __future__ import annotations

import fcntl
import multiprocessing
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from leadscore.store import open_store
from leadscore.store.write_turns import WriteTurns


def test_a_thread_waits_for_the_turn_of_another_and_starts_when_it_ends(tmp_path: Path) -> None:
    turns = WriteTurns(str(tmp_path / "x.db"), wait_s=60)
    entered, release = threading.Event(), threading.Event()

    def second() -> None:
        with turns.turn():
            entered.set()

    with turns.turn():
        waiter = threading.Thread(target=second)
        waiter.start()
        assert not entered.wait(0.2)  # held: the second writer has not started
        release.set()
    assert entered.wait(30)  # let go: it starts
    waiter.join()
    turns.close()


def _hold(path: str, held: Any, release: Any) -> None:
    with open(path, "ab") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        held.set()
        release.wait(60)


def test_another_process_holding_the_turn_is_waited_for_at_most_the_bound(tmp_path: Path) -> None:
    turns = WriteTurns(str(tmp_path / "x.db"), wait_s=0.3)
    ctx = multiprocessing.get_context("spawn")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(turns.path, held, release))
    holder.start()
    try:
        assert held.wait(60)
        with turns.turn():  # the bound passed: goes ahead without the file's turn
            assert not turns._file_held
        release.set()
        holder.join(60)
        with turns.turn():  # the holder is gone: the turn is taken
            assert turns._file_held
        assert not turns._file_held
    finally:
        release.set()
        holder.join(60)
        turns.close()


def test_a_nested_write_does_not_wait_for_itself(tmp_path: Path) -> None:
    turns = WriteTurns(str(tmp_path / "x.db"), wait_s=60)
    with turns.turn(), turns.turn():
        assert turns._file_held
    assert not turns._file_held
    turns.close()


def test_concurrent_writers_of_one_file_all_commit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    stores = [open_store(url) for _ in range(3)]  # three stores: three lock-file descriptors
    with stores[0].write() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")

    def write(store: Any, base: int) -> None:
        for i in range(50):
            with store.write() as conn:
                conn.execute(sa.text("INSERT INTO t VALUES (:n)"), {"n": base + i})

    threads = [threading.Thread(target=write, args=(s, 1000 * k)) for k, s in enumerate(stores) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with stores[0].read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 300
    assert (tmp_path / "store.db-writers.lock").exists()
    for s in stores:
        s.dispose()


def test_an_in_memory_database_takes_turns_between_threads_only() -> None:
    turns = WriteTurns(None, wait_s=1)
    with turns.turn():
        assert not turns._file_held
