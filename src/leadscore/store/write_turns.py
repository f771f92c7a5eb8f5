"""Writers of one SQLite file take turns through a lock file, so a waiting writer starts as soon as
the one before it commits.

SQLite has one write lock per database. A writer that finds it taken waits in SQLite's busy handler,
which sleeps and tries again: 1 ms, then 2, 5, 10 ... up to 100 ms between tries. Under a real-time
intake, the API's commits and the rescoring process's drains meet every few milliseconds, and each
meeting cost the waiting commit 3 to 8 ms of sleep (the 99th percentile of a single event's round
trip, where the work itself takes under a millisecond). Taking a turn first makes the waiter start
within half a millisecond of the holder letting go: between the threads of one process a lock wakes
the next at once; between processes an exclusive `flock` on `<database>-writers.lock` is tried
every `POLL_S` (flock itself has no timeout, and the wait must stay bounded).

The turn is only a courtesy between leadscore's own writers: the database's lock still decides.
A writer that waited `wait_s` for its turn goes ahead without it (SQLite's busy handling then
applies, as it did before), the lock file cannot be created (a read-only folder) means no turns, and
a process that dies lets go of its turn with its file descriptor.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import time
from collections.abc import Iterator
from typing import IO

POLL_S = 0.0005  # between attempts at another process's turn: flock has no timeout of its own


class WriteTurns:
    def __init__(self, database: str | None, wait_s: float) -> None:
        """`database`: the SQLite file (None for an in-memory database: turns between threads only)."""
        self.path = f"{database}-writers.lock" if database else None
        self.wait_s = wait_s
        self._threads = threading.RLock()  # reentrant: a nested write fails in SQLite, not here
        self._depth = 0
        self._file: IO[bytes] | None = None
        self._file_held = False

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the turn while the block runs (a write transaction: begin, work, commit)."""
        deadline = time.monotonic() + self.wait_s
        if not self._threads.acquire(timeout=self.wait_s):
            yield  # waited long enough: the database's own lock decides
            return
        try:
            self._depth += 1
            if self._depth == 1:
                self._file_held = self._take_file(deadline)
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._file_held:
                assert self._file is not None
                fcntl.flock(self._file, fcntl.LOCK_UN)
                self._file_held = False
            self._threads.release()

    def _take_file(self, deadline: float) -> bool:
        if self.path is None:
            return False
        if self._file is None:
            try:
                self._file = open(self.path, "ab")  # noqa: SIM115  (kept open for the store's life)
            except OSError:
                self.path = None  # a read-only folder: turns between this process's threads only
                return False
        while True:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(POLL_S)

    def close(self) -> None:
        with self._threads:
            if self._file is not None:
                self._file.close()
                self._file = None
