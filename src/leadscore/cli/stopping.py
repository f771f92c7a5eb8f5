"""A long-running command stopped by Ctrl-C (or a service manager's SIGTERM) between passes, not inside one.

Python's default SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be: inside a
pass that holds a lock, inside a finaliser (where the exception is printed and swallowed, so the loop goes
on as if nothing happened), inside a pool's check-in. Under load a pass takes most of the time, so that is
where the signal lands: the process could hang on its own lock at exit or never stop. Here the first
signal only asks the loop to stop once the current pass is written; a second one stops at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_requested() -> Iterator[Callable[[], bool]]:
    """Yield a `stop()` that turns true at the first SIGINT or SIGTERM; a second signal raises
    KeyboardInterrupt as Python's own handler would. The previous handlers are put back on exit."""
    asked = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if asked.is_set():
            raise KeyboardInterrupt
        asked.set()  # nothing else here: a handler that prints can re-enter a write the main thread is in

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        yield asked.is_set
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
