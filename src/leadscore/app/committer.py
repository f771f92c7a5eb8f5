"""Group commit: events from many concurrent requests stored and scored in one transaction.

Each small request would otherwise pay a whole transaction (locks, lead loads, result writes) for
one event. One writer thread takes everything queued since its last commit and ingests it as one
batch (leadscore.store.ingest); each request waits for the commit that holds its events, so an
acknowledgement means "stored" (durable), and, unless the committer defers rescoring to the
rescoring worker (leadscore.app.rescorer), "scored" too. Under load the batches grow by themselves
while the previous one commits; alone, a request commits at once.

A batch that fails is retried request by request, so one request's failure is only its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Protocol

from leadscore.domain import Event
from leadscore.domain.events import event_key
from leadscore.domain.numbers import bad_numbers
from leadscore.store import backends
from leadscore.store.events_repo import Identity, identity_of
from leadscore.store.identity import IDENTIFY
from leadscore.store.ingest import BatchOutcome
from leadscore.store.pending import writer_turn
from leadscore.store.queued_append import QUEUED_ROWS, append_queued
from leadscore.store.realtime_conn import HeldDriver

if TYPE_CHECKING:
    from leadscore.store.base import LeadStore


class LeadService(Protocol):
    """What the committer needs of `leadscore.app.service.LeadService` (which builds on app/, so it is not
    imported here)."""

    @property
    def store(self) -> LeadStore: ...

    def ingest_events(
        self, events: Sequence[Event], *, defer: bool = False, new_keys: bool = False
    ) -> BatchOutcome: ...

    def now_us(self) -> int: ...


log = logging.getLogger(__name__)
# who waits for a request's commit: a thread (its future), or a coroutine (its loop and future)
Waiter = Future["Committed"] | tuple[asyncio.AbstractEventLoop, "asyncio.Future[Committed]"]
Item = tuple[Sequence[Event], Waiter]


@dataclass(frozen=True)
class Committed:
    """One request's share of the commit that stored its events."""

    received: int
    inserted: int  # its events that were new (not stored before, not earlier in the same commit)
    rescored: int  # leads of the transaction rescored
    changed: int
    triggers: int
    pending: int = 0  # leads of the transaction queued for rescoring (deferred commits)


class GroupCommitter:
    """`defer`: commit the events with their leads queued for rescoring (leadscore.store.pending)
    instead of rescoring them in the transaction; `on_commit` is called after each commit (to wake
    the rescoring worker).

    The commit thread holds a connection of its own for the deferred appends (`HeldDriver`: given
    back to the pool after `PING_IDLE_S` without a commit, and when the committer closes). Requests
    reach it through a `SimpleQueue` (a put and a get in C, where a condition variable cost a lock
    allocated and four Python calls a wait), and a request from the event loop (`submit_async`) is
    answered through its loop's `call_soon_threadsafe`, not through a `concurrent.futures.Future`
    chained to an asyncio one (a lock, a condition and two callbacks more per request)."""

    def __init__(
        self,
        service: LeadService,
        max_events: int = 5000,
        *,
        defer: bool = False,
        on_commit: Callable[[], None] | None = None,
        pace: Callable[[], float] | None = None,
    ) -> None:
        """`pace`: seconds to wait after a commit before taking the next one (the back-pressure by age
        of leadscore.app.score_lag: the rescoring gets the CPU meanwhile, and the requests that arrive
        join the next commit)."""
        self.service = service
        self.max_events = max_events
        self.defer = defer
        self.on_commit = on_commit
        self.pace = pace
        self._queue: SimpleQueue[Item | None] = SimpleQueue()  # None: closed, nothing follows
        self._carried: Item | None = None  # taken from the queue but left for the next commit (too big)
        self._lock = threading.Lock()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._held = HeldDriver(service.store) if defer and HeldDriver.fits(service.store) else None

    def submit(self, events: Sequence[Event]) -> Future[Committed]:
        future: Future[Committed] = Future()
        self._put((events, future))
        return future

    def submit_async(self, events: Sequence[Event]) -> asyncio.Future[Committed]:
        """`submit` from a coroutine: the future of the running loop, answered in that loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Committed] = loop.create_future()
        self._put((events, (loop, future)))
        return future

    def _put(self, item: Item) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the intake is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="leadscore-commit", daemon=True)
                self._thread.start()
            self._queue.put(item)

    def ingest(self, events: Sequence[Event], timeout: float = 120.0) -> Committed:
        return self.submit(events).result(timeout)

    def close(self) -> None:
        """Commit what is queued, then stop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=60)
        elif self._held is not None:
            self._held.close()

    def _take(self) -> list[Item] | None:
        first = self._carried
        self._carried = None
        if first is None:
            try:
                first = self._queue.get(timeout=backends.PING_IDLE_S)
            except Empty:  # idle: the held connection goes back to the pool (pinged when next checked out)
                if self._held is not None:
                    self._held.release()
                first = self._queue.get()
        if first is None:
            return None
        items = [first]
        size = len(first[0])
        while True:
            try:
                item = self._queue.get_nowait()
            except Empty:
                return items
            if item is None:  # closed: what was queued before is committed, then the thread stops
                self._queue.put(None)
                return items
            if size + len(item[0]) > self.max_events:
                self._carried = item
                return items
            items.append(item)
            size += len(item[0])

    def _run(self) -> None:
        try:
            while True:
                items = self._take()
                if items is None:
                    return
                self._commit(items)
                pause = self.pace() if self.pace is not None else 0.0
                if pause > 0:
                    time.sleep(pause)
        finally:
            if self._held is not None:
                self._held.close()

    def _commit(self, items: list[Item]) -> None:
        batch = [e for events, _ in items for e in events]
        shared = len(items) > 1  # "inserted" shared out between the requests; alone, the total is its own
        try:
            # the transaction says which events it inserted: no read of the log of its own for that.
            # The drain's write waits for this one, and this for it; on the held connection, its own
            # BEGIN looks for SQLite's write lock (`realtime_conn.begin_immediate`)
            with writer_turn(self.service.store, look=self._held is None or not self._appends(batch)):
                done = self._store(batch, shared)
        except Exception as exc:
            if len(items) == 1:
                _answer(items[0][1], exc)
                return
            log.warning("a grouped commit of %d requests failed (%s); committing them one by one", len(items), exc)
            for item in items:
                self._commit([item])
            return
        self._acknowledge(items, done)
        # after the acknowledgements: waking the rescoring worker is no part of a request's wait
        if self.on_commit is not None and done.pending:
            self.on_commit()

    def _store(self, batch: list[Event], shared: bool) -> BatchOutcome:
        """Store the batch (and rescore it unless `defer`). A deferred batch of a few plain events (the
        common case: real-time requests) is appended on the database driver (`append_queued`, the same
        tables as the service's path, at a third of its CPU); anything else, or anything that path would
        refuse (an identify, which may link a visitor to a lead; a number out of range), takes the service's path,
        which merges, or names what is wrong."""
        if not self._appends(batch):
            return self.service.ingest_events(batch, defer=self.defer, new_keys=shared)
        # the time taken in the transaction, as the service does
        new, touched = append_queued(self.service.store, batch, self.service.now_us, self._held)
        keys = {identity_of(r) for r in new} if shared else None
        return BatchOutcome(len(batch), len(new), pending=len(touched), new_keys=keys)

    def _appends(self, batch: Sequence[Event]) -> bool:
        """The batch goes to the driver-level append (`_store`)."""
        return self.defer and len(batch) <= QUEUED_ROWS and _plain(batch)

    def _acknowledge(self, items: list[Item], done: BatchOutcome) -> None:
        if len(items) == 1:
            (events, future), *_ = items
            outcome = Committed(len(events), done.inserted, done.rescored, done.changed, done.triggers, done.pending)
            _answer(future, outcome)
            return
        inserted: set[Identity] = done.new_keys or set()
        for events, future in items:
            new = 0
            # an event's identity in the log: its key and the lead it arrived under (ids are per lead)
            for key in ((event_key(e), e.lead_id) for e in events):
                if key in inserted:  # an event sent twice in one commit counts for the first request
                    inserted.discard(key)
                    new += 1
            _answer(future, Committed(len(events), new, done.rescored, done.changed, done.triggers, done.pending))


def _answer(waiter: Waiter, outcome: Committed | BaseException) -> None:
    """Give a request its outcome: a thread's future at once, an event loop's in that loop."""
    if isinstance(waiter, Future):
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)
        return
    loop, future = waiter
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits for this answer
        loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future[Committed], outcome: Committed | BaseException) -> None:
    if future.done():  # cancelled: the request went away (its client disconnected)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _plain(batch: Sequence[Event]) -> bool:
    """No identify (which may link a visitor to a lead: a merge), and no number the service refuses."""
    for event in batch:
        if event.type == IDENTIFY:
            return False
        for name, value in event.properties.items():
            for _ in bad_numbers(value, name):
                return False
    return True
