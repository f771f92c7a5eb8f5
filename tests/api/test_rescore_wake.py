"""The server wakes its rescoring process through a pipe (leadscore.api.rescore_process.PipeWake)."""

from __future__ import annotations

import multiprocessing
from typing import Any

from leadscore.api.rescore_process import PipeWake


def _echo(wake: Any, seen: Any, done: Any) -> None:
    for _ in range(3):
        if wake.wait(60):
            wake.clear()
            seen.set()
        done.wait(60)
        done.clear()


def test_a_wake_up_reaches_the_other_process_and_is_cleared() -> None:
    ctx = multiprocessing.get_context("spawn")
    wake = PipeWake(ctx)
    seen, done = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_echo, args=(wake, seen, done))
    child.start()
    try:
        for _ in range(3):
            wake.set()
            wake.set()  # twice before it wakes: one wake-up
            assert seen.wait(60)
            seen.clear()
            done.set()
    finally:
        child.join(60)
    assert child.exitcode == 0


def test_setting_never_blocks_even_when_nobody_reads() -> None:
    wake = PipeWake(multiprocessing.get_context("spawn"))
    for _ in range(100_000):  # far more than a pipe holds
        wake.set()
    assert wake.wait(0)
    wake.clear()
    assert not wake.wait(0)


def test_records_come_back_whole_and_in_order_and_end_of_file_says_the_writer_is_gone() -> None:
    """The rescoring process's messages to the server (a drain committed, a catch-up's time)."""
    from leadscore.api.rescore_process import SCORED

    pipe = PipeWake(multiprocessing.get_context("spawn"))
    assert pipe.records() == []  # nothing yet, without blocking
    for value in (SCORED, 12.5, SCORED, 13.25):
        pipe.send(value)
    assert pipe.records() == [SCORED, 12.5, SCORED, 13.25]
    assert pipe.records() == []
    for _ in range(100_000):  # far more than a pipe holds: never blocks, and what is read is whole
        pipe.send(1.5)
    assert set(pipe.records() or []) == {1.5}
    pipe.send(2.0)
    pipe.close_writer()
    assert pipe.records() == [2.0]
    assert pipe.records() is None
