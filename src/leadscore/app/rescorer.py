"""The rescoring worker: a thread that drains the leads queued by deferred ingests.

The API acknowledges an event once it is stored (with its lead queued for rescoring, in the same
transaction; leadscore.store.pending); this worker rescores queued leads right after, a batch of
leads per transaction, so several events of one lead cost one rescoring. It wakes when the intake
commits (`notify`) and also every `poll_s` seconds, for leads queued by another process (a second
server worker, a crashed predecessor): on start it drains whatever an earlier process left.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from leadscore.store.pending import DRAIN_LEADS, Drained

log = logging.getLogger(__name__)


class Drains(Protocol):
    """What the worker needs of `leadscore.service.LeadService`."""

    def drain_pending(self, limit: int = DRAIN_LEADS) -> Drained: ...


class RescoreWorker:
    def __init__(
        self, service: Drains, *, poll_s: float = 0.25, limit: int = DRAIN_LEADS, wake: Any = None, closed: Any = None
    ) -> None:
        self.service = service
        self.poll_s = poll_s
        self.limit = limit
        # threading.Event, or multiprocessing.Event when the worker runs in a process of its own
        self._wake = wake if wake is not None else threading.Event()
        self._closed = closed if closed is not None else threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RescoreWorker:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="leadscore-rescore", daemon=True)
            self._thread.start()
        return self

    def notify(self) -> None:
        """Events were just queued: drain now rather than at the next poll."""
        self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the batch in progress; what is still queued stays queued for the next start."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._closed.is_set():
            self._drain()
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _drain(self) -> None:
        while not self._closed.is_set():
            try:
                done = self.service.drain_pending(self.limit)
            except Exception:  # the store is down, the schema is old...: try again at the next poll
                log.exception("rescoring queued leads failed; retrying")
                self._closed.wait(1.0)
                return
            if done.taken == 0:
                return


class RescoreProcess:
    """The worker in a process of its own, beside a server process: scoring is CPU-bound Python, and
    in the server's process it would hold the interpreter lock that the acknowledgements need. It
    opens the workspace's store itself; the server wakes it after each commit. It exits with the
    server (closed, or the server process gone)."""

    def __init__(self, root: Path, *, poll_s: float = 0.25, limit: int = DRAIN_LEADS) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._wake = ctx.Event()
        self._closed = ctx.Event()
        self._ready = ctx.Event()
        self._process = ctx.Process(
            target=_serve_queue,
            args=(str(root), poll_s, limit, self._wake, self._closed, self._ready, os.getpid()),
            name="leadscore-rescore",
            daemon=True,
        )

    def start(self, timeout: float = 60.0) -> RescoreProcess:
        """Start the process and wait until it has loaded the model (so a server that says it is up
        does not share its first seconds of load with that start)."""
        self._process.start()
        self._ready.wait(timeout)
        return self

    def notify(self) -> None:
        self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        self._closed.set()
        self._wake.set()
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


def _serve_queue(root: str, poll_s: float, limit: int, wake: Any, closed: Any, ready: Any, parent: int) -> None:
    """The rescoring process: drain until the server closes it or is gone."""
    from leadscore.service import LeadService
    from leadscore.workspace import Workspace

    service = LeadService.from_workspace(Workspace.load(root))
    try:
        service.current_evaluator()
    except Exception:  # no model yet, the store not reachable: the worker's loop retries
        log.exception("the rescoring process cannot load the model yet")
    finally:
        ready.set()
    worker = RescoreWorker(service, poll_s=poll_s, limit=limit, wake=wake, closed=closed).start()
    try:
        while not closed.wait(1.0):
            if os.getppid() != parent:  # the server was killed: nothing will close this process
                break
    finally:
        worker.close()
        service.close()
