"""The rescoring worker (leadscore.app.rescorer) in a process of its own, beside a server process.

Scoring is CPU-bound Python: in the server's process it would hold the interpreter lock that the
acknowledgements need. The process opens the workspace's store itself; the server wakes it after
each commit, and it exits with the server (closed, or the server process gone). The other way, it
signals the server after each drain it commits (`on_scored`), so that the clients waiting for a lead's
result to be current (leadscore.app.lead_waits) are answered then, not at the next periodic check, and
when a real-time drain caught up (`on_caught_up`: the intake's back-pressure by age,
leadscore.app.score_lag).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from leadscore.api import heap
from leadscore.app.rescorer import BulkRequests, RescoreWorker
from leadscore.store.pending import DRAIN_LEADS

log = logging.getLogger(__name__)
COMM = "ls-rescore"  # the process's name in /proc/PID/comm (15 characters at most)
# what the rescoring process tells the server, a record at a time: 0.0, a drain committed; a positive
# `time.monotonic()`, a real-time drain that took its leads then caught up. A write of 8 bytes to a pipe
# is atomic (POSIX: up to PIPE_BUF), so a read of a multiple of 8 bytes holds whole records
RECORD = struct.Struct("<d")
SCORED = 0.0


class PipeWake:
    """A wake-up signal from the server process to the rescoring process, with the interface of an
    `Event` (`set`, `wait`, `clear`) that `RescoreWorker` expects.

    `set` is called after every commit, so it must cost the committer next to nothing: here one
    non-blocking write(2) of a byte (a full pipe means a wake-up is already pending). A
    multiprocessing `Event` takes two semaphores and, in `set`, waits until the sleeping process has
    woken up: a scheduling delay of the other process on every commit. The other way (the rescoring
    process to the server) it carries `RECORD`s (`send`, `records`)."""

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

    def send(self, value: float) -> None:
        """Write one `RECORD` without blocking (a full pipe: dropped, the reader is behind and a later
        record says as much; a broken one: the reader is gone)."""
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(self._writer.fileno(), RECORD.pack(value))

    def records(self) -> list[float] | None:
        """The records written since the last call, without blocking; None at end of file (every writer
        is gone) when nothing came before it."""
        fd = self._reader.fileno()
        os.set_blocking(fd, False)
        data = b""
        with contextlib.suppress(BlockingIOError):
            while True:
                chunk = os.read(fd, 4096 * RECORD.size)
                if not chunk:
                    if not data:
                        return None
                    break
                data += chunk
        return [value for (value,) in RECORD.iter_unpack(data[: len(data) - len(data) % RECORD.size])]

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
        # the bulk requests in progress, or when the last ended (`time.monotonic()`: one clock for every
        # process on Linux), in shared memory: the server's request threads set it, the worker reads it
        # before each backlog drain (leadscore.app.rescorer)
        self._bulk = BulkRequests(ctx.RawValue("d", 0.0))
        self._unwatch: Callable[[], object] = lambda: None
        self._process = ctx.Process(
            target=_serve_queue,
            args=(
                str(root),
                poll_s,
                limit,
                gather_s,
                self._wake,
                self._scored,
                self._closed,
                self._ready,
                os.getpid(),
                self._bulk.at,
            ),
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

    def bulk_started(self) -> None:
        """`RescoreWorker.bulk_started`, from the server's process."""
        self._bulk.started()

    def bulk_ended(self) -> None:
        """`RescoreWorker.bulk_ended`, from the server's process."""
        self._bulk.ended()
        self._wake.set()

    def on_scored(self, callback: Callable[[], None], on_caught_up: Callable[[float], None] | None = None) -> None:
        """Call `callback` in the running event loop's thread after each drain the process commits
        (several drains signalled before the loop reads them: one call), and `on_caught_up` with the
        latest time a real-time drain caught up (`RescoreWorker`'s)."""
        loop = asyncio.get_running_loop()
        fd = self._scored.reader_fd()

        def readable() -> None:
            records = self._scored.records()
            if records is None:  # end of file: the process is gone; the waits' periodic check goes on alone
                loop.remove_reader(fd)
                return
            caught = max(records, default=SCORED)
            if caught > SCORED and on_caught_up is not None:
                on_caught_up(caught)
            if SCORED in records:
                callback()

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
    bulk: Any = None,
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
        service,
        poll_s=poll_s,
        limit=limit,
        gather_s=gather,
        wake=wake,
        closed=closed,
        on_drained=lambda: scored.send(SCORED),
        on_caught_up=scored.send,
        bulk=bulk,
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
