"""Ctrl-C and SIGTERM stop a watching command between passes (leadscore.cli.stopping)."""

from __future__ import annotations

import os
import signal

import pytest

from leadscore.cli.stopping import stop_requested


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_asks_the_second_interrupts_and_the_handlers_come_back(sig: signal.Signals) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(KeyboardInterrupt), stop_requested() as stop:
        assert not stop()
        os.kill(os.getpid(), sig)  # delivered to this (the main) thread before kill returns to Python code
        assert stop()
        os.kill(os.getpid(), sig)
        pytest.fail("the second signal did not interrupt")
    assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == before


def test_a_pass_under_way_is_not_interrupted_by_the_first_signal() -> None:
    passes = []
    with stop_requested() as stop:
        while not stop():
            os.kill(os.getpid(), signal.SIGINT)  # lands in the middle of the pass
            passes.append("written")  # the rest of the pass still runs
    assert passes == ["written"]
