"""The rescoring worker: a thread that drains the leads queued by deferred ingests.

The API acknowledges an event once it is stored (with its lead queued for rescoring, in the same
transaction; leadscore.store.pending); this worker rescores queued leads right after, a batch of
leads per transaction, so several events of one lead cost one rescoring. It wakes when the intake
commits (`notify`) and also every `poll_s` seconds, for leads queued by another process (a second
server worker, a crashed predecessor): on start it drains whatever an earlier process left.

Once woken it can wait `gather_s` before draining, so that the leads of the commits made meanwhile
are rescored in the same transaction: a drain has a fixed cost (its statements, its commit) that is
several times the cost of scoring one lead, and one drain per acknowledged event, at a few hundred
events a second, spent more CPU on that cost than the intake itself. The wait adds up to `gather_s` to
the time from acknowledgement to score (targeted under a second at the 99th percentile). It counts from
when the previous drain took its leads, when commits came meanwhile: under load, drains then start
`gather_s` apart, or back to back when a drain takes longer, rather than a drain's time plus
`gather_s` apart, which a lead queued just after a take waited whole. The API sets it
(`rescore_gather_s`, 0.05 s by default); without a setting each backend says how long
(`LeadStore.drain_gather_s`, 20 ms on both).

Real-time leads first: each round drains the leads queued by recent small commits (the group
commit of single events) in a drain of their own, then, when other leads wait (a bulk request's),
one drain of the longest-waiting, whose size follows how long drains take (`backlog_s`): a real-time
event waits for at most one backlog drain, not for the backlog, and not in the same transaction as
backlog leads (whose locks, on PostgreSQL, the bulk requests hold: a drain of 200 of them took 0.8-2 s
there under load, traced). Every round drains the backlog too, so a steady stream of real-time
events does not starve it.

While bulk requests are in progress or committed within `bulk_quiet_s` (`bulk_started`, `bulk_ended`),
the backlog waits for them, up to `bulk_defer_max_s` at a time: their leads are mostly the same from one
request to the next (each 10,000-event request of the API benchmark marks the same 2,000 leads), so a
lead drained between two of them is drained again after the next, its fixed cost (its result, history,
queue mark, their statements and locks) paid once per request instead of once, and the drains took the
cores the requests needed (on PostgreSQL, a third of the CPU spent while the requests ran). Real-time
drains do not wait: the time from acknowledgement to score of single events is unchanged.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from leadscore.store.pending import DRAIN_LEADS, Drained, Which, store_gone

if TYPE_CHECKING:
    from leadscore.store.base import LeadStore

log = logging.getLogger(__name__)


class Drains(Protocol):
    """What the worker needs of `leadscore.app.service.LeadService`."""

    @property
    def store(self) -> LeadStore: ...

    def drain_pending(self, limit: int = DRAIN_LEADS, *, which: Which = "all") -> Drained: ...


BACKLOG_S = 0.2  # what a backlog drain is sized to take, so that real-time leads wait little behind it
# leads: a drain's fixed cost (its statements, its commit) stays a small share. On PostgreSQL at load
# 12 a drain of 20 leads cost 25 ms of CPU, of 200 leads 100-150 ms (traced)
BACKLOG_MIN = 50
# a bulk request in progress, or one ended within this long: the backlog waits (the next request of a
# stream is likely on its way); and it waits at most this long in a row, then one backlog drain runs, so
# that a stream that never pauses does not starve it
BULK_QUIET_S = 0.3
BULK_DEFER_MAX_S = 0.5  # and within the 1 s from acknowledgement to score (docs/api.md)


class Stamp:
    """A time (`time.monotonic()`) with the `value` attribute of a shared `multiprocessing.RawValue`:
    the worker's own when it runs as a thread of the server."""

    value = 0.0


class BulkRequests:
    """The bulk requests in progress, as the worker reads them from `at.value`: +inf while one is, else
    `time.monotonic()` when the last one ended (0: none yet). Set by the request threads of one server
    process; read by its worker (a thread, or a process of its own through shared memory)."""

    def __init__(self, at: Any = None) -> None:
        self.at = at if at is not None else Stamp()
        self._lock = threading.Lock()
        self._running = 0

    def started(self) -> None:
        with self._lock:
            self._running += 1
            self.at.value = math.inf

    def ended(self) -> None:
        with self._lock:
            self._running -= 1
            if self._running <= 0:
                self._running = 0
                self.at.value = time.monotonic()


class RescoreWorker:
    def __init__(
        self,
        service: Drains,
        *,
        poll_s: float = 0.25,
        limit: int = DRAIN_LEADS,
        gather_s: float = 0.0,
        wake: Any = None,
        closed: Any = None,
        backlog_s: float = BACKLOG_S,
        on_drained: Callable[[], None] | None = None,
        on_caught_up: Callable[[float], None] | None = None,
        bulk: Any = None,
        bulk_quiet_s: float = BULK_QUIET_S,
        bulk_defer_max_s: float = BULK_DEFER_MAX_S,
    ) -> None:
        """`on_drained` is called after each drain that rescored leads (committed): the server's waits
        for current results (leadscore.app.lead_waits) look at the store then. `on_caught_up(took)`
        after each real-time drain that took every real-time lead queued (`time.monotonic()` when it
        took them): the intake's back-pressure by age (leadscore.app.score_lag) learns so that the
        commits done before `took` are scored. `bulk`: the `BulkRequests.at` of the server's bulk requests
        when the worker runs in a process of its own (a shared `multiprocessing.RawValue("d")`; the
        server's `RescoreProcess` sets it), else the worker keeps its own (`bulk_started`,
        `bulk_ended`); `bulk_quiet_s`, `bulk_defer_max_s`: how the backlog waits for a stream of bulk
        requests (`bulk_defer_max_s` 0: it does not)."""
        self.service = service
        self.on_drained = on_drained
        self.on_caught_up = on_caught_up
        self.poll_s = poll_s
        self.gather_s = gather_s
        self.limit = limit
        self.backlog_s = backlog_s
        # leads per backlog drain, fitted to `backlog_s` as drains go; the first one small, for the real-time
        # leads behind it: a first drain of 200 took 0.96 s at load 16 (traced), twice the fitted ones
        self.backlog_limit = min(limit, BACKLOG_MIN)
        # threading.Event, or multiprocessing.Event when the worker runs in a process of its own
        self._wake = wake if wake is not None else threading.Event()
        self._closed = closed if closed is not None else threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0  # drains failed in a row
        self._bulk = BulkRequests(bulk)
        self.bulk_quiet_s = bulk_quiet_s
        self.bulk_defer_max_s = bulk_defer_max_s
        self._deferred: float | None = None  # since when the backlog has waited for bulk commits
        self._backlog_due: float | None = None  # when the backlog waiting for them drains, if nothing wakes it

    def start(self) -> RescoreWorker:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="leadscore-rescore", daemon=True)
            self._thread.start()
        return self

    def notify(self) -> None:
        """Events were just queued: drain now rather than at the next poll."""
        self._wake.set()

    def bulk_started(self) -> None:
        """A bulk request is storing its events: the backlog waits (`_backlog_wait`)."""
        self._bulk.started()

    def bulk_ended(self) -> None:
        """A bulk request is done (its leads queued, or refused): drain now (real-time leads); the
        backlog waits `bulk_quiet_s` more for the next request of a stream."""
        self._bulk.ended()
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
            took = time.monotonic()  # about when the drain takes its leads: later commits wait for the next
            self._drain()
            if self._wake.wait(0):  # commits while it drained, gathering since it took its leads
                since: float | None = took
            else:  # idle: the first commit from now on opens the gathering
                idle = self.poll_s
                if self._backlog_due is not None:  # the backlog waiting for bulk commits: no later than due
                    idle = min(idle, max(0.0, self._backlog_due - time.monotonic()))
                since = time.monotonic() if self._wake.wait(idle) else None
            if since is not None and self.gather_s > 0:
                # let the commits that follow this one join its drain; a drain longer than `gather_s`
                # gathered them already, and waiting again would only add to their time to score
                rest = self.gather_s - (time.monotonic() - since)
                if rest > 0:
                    self._closed.wait(rest)
            self._wake.clear()

    @property
    def alive(self) -> bool:
        """The worker runs (it stops when closed, or when its store is gone)."""
        return self._thread is not None and self._thread.is_alive()

    def _drain(self) -> None:
        while not self._closed.is_set():
            try:
                if store_gone(self.service.store):
                    raise FileNotFoundError(self.service.store.sqlite_file())
                # before the drain's first read: the commits done before it are in what the drain sees
                took = time.monotonic()
                done = self.service.drain_pending(self.limit, which="realtime")
                self._drained(done.taken)  # before the backlog drain: real-time waits end now
                more = done.taken >= self.limit  # more real-time leads than one drain takes
                if not more and self.on_caught_up is not None:
                    self.on_caught_up(took)
                self._backlog_due = None
                wait = self._backlog_wait() if done.more else 0.0
                if wait > 0:  # bulk requests still coming: their leads wait for the stream's end
                    self._backlog_due = time.monotonic() + wait
                elif done.more:  # other leads wait: one drain of the longest-waiting, sized in time
                    limit, started = self.backlog_limit, time.monotonic()
                    back = self.service.drain_pending(limit, which="backlog")
                    self._drained(back.taken)
                    self._fit(limit, back.taken + back.busy, time.monotonic() - started)
                    # leads another transaction held (a bulk request's) are left queued: the next
                    # round, after the gather, rather than at once and again and again while it holds them
                    more = more or (back.taken >= limit and not back.busy)
            except Exception as exc:  # the store is down, the schema is old...: try again at the next poll
                if store_gone(self.service.store, exc):
                    log.warning("the store is gone (%s); the rescoring worker stops", exc)
                    self._closed.set()
                    return
                self._failures += 1
                if self._failures == 1:
                    log.exception("rescoring queued leads failed; retrying")
                else:  # the traceback once; then a line, less and less often
                    log.warning("rescoring queued leads failed again (%d times): %s", self._failures, exc)
                self._closed.wait(min(30.0, float(self._failures)))
                return
            self._failures = 0
            if not more:  # the queue is empty, or was when these drains took from it: the commits
                return  # since then woke the worker, which gathers them before the next drain

    def _backlog_wait(self) -> float:
        """Seconds the backlog drain waits for bulk requests: while one is in progress and until
        `bulk_quiet_s` after the last one ended, but no more than `bulk_defer_max_s` since it began
        waiting (0: drain now, and a later wait counts from this drain)."""
        now = time.monotonic()
        quiet_at = self._bulk.at.value + self.bulk_quiet_s
        if now >= quiet_at or self.bulk_defer_max_s <= 0:
            self._deferred = None
            return 0.0
        if self._deferred is None:
            self._deferred = now
        due = self._deferred + self.bulk_defer_max_s
        if now >= due:
            self._deferred = None
            return 0.0
        return min(quiet_at, due) - now

    def _drained(self, taken: int) -> None:
        if taken and self.on_drained is not None:
            self.on_drained()

    def _fit(self, limit: int, taken: int, seconds: float) -> None:
        """Size the next backlog drain to take about `backlog_s` at the rate of this one (a full one:
        a short one says the queue was short, not how fast it drains), growing at most twofold a drain."""
        if taken < limit or taken == 0:
            return
        fitted = int(taken * self.backlog_s / max(seconds, 1e-3))
        self.backlog_limit = max(BACKLOG_MIN, min(self.limit, 2 * limit, fitted))
