"""The rescoring worker (leadscore.app.rescorer) in a process of its own, beside a server process.

Scoring is CPU-bound Python: in the server's process it would hold the interpreter lock that the
acknowledgements need. The process opens the workspace's store itself; the server wakes it after
each commit, and it exits with the server (closed, or the server process gone). The other way, it
signals the server after each drain it commits (`on_scored`), so that the clients waiting for a lead's
result to be current (leadscore.app.lead_waits) are answered then, not at the next periodic check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadscore.api import heap
from leadscore.app.rescorer import RescoreWorker
from leadscore.store.pending import DRAIN_LEADS

log = logging.getLogger(__name__)
COMM = "ls-rescore"  # the process's name in /proc/PID/comm (15 characters at most)


class PipeWake:
    """A wake-up signal from the server process to the rescoring process, with the interface of an
    `Event` (`set`, `wait`, `clear`) that `RescoreWorker` expects.

    `set` is called after every commit, so it must cost the committer next to nothing: here one
    non-blocking write(2) of a byte (a full pipe means a wake-up is already pending). A
    multiprocessing `Event` takes two semaphores and, in `set`, waits until the sleeping process has
    woken up: a scheduling delay of the other process on every commit."""

    def __init__(self, ctx: Any) -> None:
        # Connections only carry the two ends into the spawned process; bytes go through os.read/write
        self._reader, self._writer = ctx.Pipe(duplex=False)
        os.set_blocking(self._writer.fileno(), False)

    def set(self) -> None:
        # a full pipe: already signalled; a broken one: the rescoring process is gone (seen on close)
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(self._writer.fileno(), b"\0")

    def wait(self, timeout: float | None = None) -> bool:
        return bool(self._reader.poll(timeout))

    def close_writer(self) -> None:
        self._writer.close()

    def reader_fd(self) -> int:
        fd: int = self._reader.fileno()
        return fd

    def drain_readable(self) -> bool:
        """Empty the pipe without blocking; False at end of file (every writer is gone)."""
        fd = self._reader.fileno()
        os.set_blocking(fd, False)
        seen = False
        with contextlib.suppress(BlockingIOError):
            while True:
                chunk = os.read(fd, 4096)
                if not chunk:
                    return seen  # end of file: signalled once more if bytes came before it
                seen = True
        return True

    def clear(self) -> None:
        fd = self._reader.fileno()
        os.set_blocking(fd, False)
        with contextlib.suppress(BlockingIOError):
            while os.read(fd, 4096):
                pass


class RescoreProcess:
    """`RescoreWorker` in a spawned process, for the workspace at `root`."""

    def __init__(
        self, root: Path, *, poll_s: float = 0.25, limit: int = DRAIN_LEADS, gather_s: float | None = None
    ) -> None:
        """`gather_s`: see leadscore.app.rescorer; None: what the store's backend says."""
        ctx = multiprocessing.get_context("spawn")
        self._wake = PipeWake(ctx)
        self._scored = PipeWake(ctx)  # the other way: a drain committed
        self._closed = ctx.Event()
        self._ready = ctx.Event()
        self._unwatch: Callable[[], object] = lambda: None
        self._process = ctx.Process(
            target=_serve_queue,
            args=(str(root), poll_s, limit, gather_s, self._wake, self._scored, self._closed, self._ready, os.getpid()),
            name="leadscore-rescore",
            daemon=True,
        )

    def start(self, timeout: float = 60.0) -> RescoreProcess:
        """Start the process and wait until it has loaded the model (so a server that says it is up
        does not share its first seconds of load with that start)."""
        self._process.start()
        self._scored.close_writer()  # the process holds its own: end of file once it is gone
        self._ready.wait(timeout)
        return self

    def notify(self) -> None:
        self._wake.set()

    def on_scored(self, callback: Callable[[], None]) -> None:
        """Call `callback` in the running event loop's thread after each drain the process commits
        (several drains signalled before the loop reads them: one call)."""
        loop = asyncio.get_running_loop()
        fd = self._scored.reader_fd()

        def readable() -> None:
            if self._scored.drain_readable():
                callback()
            else:  # end of file: the process is gone; the waits' periodic check goes on alone
                loop.remove_reader(fd)

        loop.add_reader(fd, readable)
        self._unwatch = lambda: loop.remove_reader(fd)

    def close(self, timeout: float = 30.0) -> None:
        with contextlib.suppress(Exception):  # the loop may be closed already
            self._unwatch()
        self._closed.set()
        self._wake.set()
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


def _serve_queue(
    root: str,
    poll_s: float,
    limit: int,
    gather_s: float | None,
    wake: Any,
    scored: PipeWake,
    closed: Any,
    ready: Any,
    parent: int,
) -> None:
    """The rescoring process: drain until the server closes it or is gone."""
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace

    with contextlib.suppress(OSError):  # Linux: `ps` and the benchmarks tell it from the server processes
        Path("/proc/self/comm").write_text(COMM)
    # The server closes it (or its death is seen below). A SIGTERM or Ctrl-C sent to the server's process
    # group reached this process too, and killed it inside `closed.wait`, holding the lock of that shared
    # Event: the server's `close` then waited on that lock until it was killed (20 s in tests/api/server.py)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    service = LeadService.from_workspace(Workspace.load(root))
    try:
        service.current_evaluator()
    except Exception:  # no model yet, the store not reachable: the worker's loop retries
        log.exception("the rescoring process cannot load the model yet")
    finally:
        ready.set()
    heap.settle()
    gather = service.store.drain_gather_s if gather_s is None else gather_s
    worker = RescoreWorker(
        service, poll_s=poll_s, limit=limit, gather_s=gather, wake=wake, closed=closed, on_drained=scored.set
    ).start()
    try:
        while not closed.wait(1.0):
            if os.getppid() != parent:  # the server was killed: nothing will close this process
                break
            if not worker.alive:  # its store is gone (leadscore.store.pending.store_gone)
                break
    finally:
        worker.close()
        service.close()
