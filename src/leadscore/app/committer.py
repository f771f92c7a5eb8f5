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

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from leadscore.domain import Event
from leadscore.domain.events import event_key
from leadscore.domain.numbers import bad_numbers
from leadscore.store.events_repo import QUEUED_ROWS, Identity, append_queued, identity_of
from leadscore.store.identity import IDENTIFY
from leadscore.store.ingest import BatchOutcome
from leadscore.store.pending import writer_turn

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
    the rescoring worker)."""

    def __init__(
        self,
        service: LeadService,
        max_events: int = 5000,
        *,
        defer: bool = False,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.service = service
        self.max_events = max_events
        self.defer = defer
        self.on_commit = on_commit
        self._queue: deque[tuple[Sequence[Event], Future[Committed]]] = deque()
        self._cv = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, events: Sequence[Event]) -> Future[Committed]:
        future: Future[Committed] = Future()
        with self._cv:
            if self._closed:
                raise RuntimeError("the intake is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="leadscore-commit", daemon=True)
                self._thread.start()
            self._queue.append((events, future))
            self._cv.notify()
        return future

    def ingest(self, events: Sequence[Event], timeout: float = 120.0) -> Committed:
        return self.submit(events).result(timeout)

    def close(self) -> None:
        """Commit what is queued, then stop."""
        with self._cv:
            self._closed = True
            self._cv.notify()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _take(self) -> list[tuple[Sequence[Event], Future[Committed]]] | None:
        with self._cv:
            while not self._queue and not self._closed:
                self._cv.wait()
            if not self._queue:
                return None
            items = [self._queue.popleft()]
            size = len(items[0][0])
            while self._queue and size + len(self._queue[0][0]) <= self.max_events:
                item = self._queue.popleft()
                items.append(item)
                size += len(item[0])
            return items

    def _run(self) -> None:
        while True:
            items = self._take()
            if items is None:
                return
            self._commit(items)

    def _commit(self, items: list[tuple[Sequence[Event], Future[Committed]]]) -> None:
        batch = [e for events, _ in items for e in events]
        shared = len(items) > 1  # "inserted" shared out between the requests; alone, the total is its own
        try:
            # the transaction says which events it inserted: no read of the log of its own for that
            with writer_turn(self.service.store):  # the drain's write waits for this one, and this for it
                done = self._store(batch, shared)
        except Exception as exc:
            if len(items) == 1:
                items[0][1].set_exception(exc)
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
        if not (self.defer and len(batch) <= QUEUED_ROWS and _plain(batch)):
            return self.service.ingest_events(batch, defer=self.defer, new_keys=shared)
        # the time taken in the transaction, as the service does
        new, touched = append_queued(self.service.store, batch, self.service.now_us)
        keys = {identity_of(r) for r in new} if shared else None
        return BatchOutcome(len(batch), len(new), pending=len(touched), new_keys=keys)

    def _acknowledge(self, items: list[tuple[Sequence[Event], Future[Committed]]], done: BatchOutcome) -> None:
        if len(items) == 1:
            (events, future), *_ = items
            future.set_result(
                Committed(len(events), done.inserted, done.rescored, done.changed, done.triggers, done.pending)
            )
            return
        inserted: set[Identity] = done.new_keys or set()
        for events, future in items:
            new = 0
            # an event's identity in the log: its key and the lead it arrived under (ids are per lead)
            for key in ((event_key(e), e.lead_id) for e in events):
                if key in inserted:  # an event sent twice in one commit counts for the first request
                    inserted.discard(key)
                    new += 1
            future.set_result(Committed(len(events), new, done.rescored, done.changed, done.triggers, done.pending))


def _plain(batch: Sequence[Event]) -> bool:
    """No identify (which may link a visitor to a lead: a merge), and no number the service refuses."""
    for event in batch:
        if event.type == IDENTIFY:
            return False
        for name, value in event.properties.items():
            for _ in bad_numbers(value, name):
                return False
    return True
