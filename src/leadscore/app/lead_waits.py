"""Waiting for a lead's result to be current: answered when the rescoring catches up, not by polling.

A client that needs a lead's updated score (a form handler routing the lead it just sent) asks once
and waits (`GET /v1/leads/{id}?wait=SECONDS`) instead of reading the lead again and again: each full
read cost the server about 2 ms of CPU, and 20 pollers reading every 25 ms took up to a third of the
CPU the bulk intake needed beside them.

The waits of a server process share one checker: a task that sleeps until the rescoring says it
committed a drain (`scored`, from the rescoring process through a pipe, or from the worker's thread),
or at most `check_s`, and then asks the store in one query which of the waited-for leads are still
queued. The bounded check covers drains it is not told about: those of another server process's
rescoring (several workers), or of a drain run by hand. Nothing runs while nobody waits.

A wait covers the events acknowledged for the lead when it began: it ends when the lead's queue mark
(`pending_rescore`, leadscore.store.pending) is gone, or is a newer one (the drain took the events
waited for, and events acknowledged since marked the lead again). A result whose next time-driven
change is due (`current: false` with `pending: false`) is answered at once: only a refresh changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.app.errors import Busy, NotFound, ServiceError
from leadscore.app.readers import lead_view
from leadscore.app.results import LeadView
from leadscore.store.leads_repo import chunks
from leadscore.store.results_repo import load_result_rows
from leadscore.store.tables import leads, pending_rescore

log = logging.getLogger(__name__)

CHECK_S = 0.1  # the longest a wait goes without a look at the store (drains nobody signals)
# threads that read the queue marks of waits as they begin (and the lead, when it is not queued): a
# few, not the request threads. Each read holds a pooled connection; in the request threads (40), the
# waits begun while a bulk request held the interpreter piled up, up to 14 connections checked out at
# once against a pool that keeps 5, and the pool opened and closed 24-48 connections during the API
# benchmark's bulk phase on PostgreSQL: 8 ms of the database's CPU and 2 of the server's each, 3-5 µs
# per bulk event (benchmarks/results/api.md)
MARK_THREADS = 2
_NOT_QUEUED = -1  # the mark of a lead that is not queued


def lead_mark(conn: Connection, lead_id: str) -> int | None:
    """The lead's queue mark (when it was queued), `_NOT_QUEUED`, or None when there is no such lead."""
    query = (
        sa.select(pending_rescore.c.since)
        .select_from(leads.outerjoin(pending_rescore, pending_rescore.c.lead_id == leads.c.id))
        .where(leads.c.id == lead_id)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    return _NOT_QUEUED if row[0] is None else int(row[0])


def _lead_rows(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The leads' stored rows (as `lead_view` reads them), by id; `results_repo.load_result_rows` their results'."""
    query = sa.select(leads).where(leads.c.id.in_(sa.bindparam("ids", expanding=True)))
    return {str(r["id"]): dict(r) for part in chunks(ids) for r in conn.execute(query, {"ids": list(part)}).mappings()}


def queue_marks(conn: Connection, lead_ids: Sequence[str]) -> dict[str, int]:
    """The queue marks of those of `lead_ids` that are queued."""
    found: dict[str, int] = {}
    query = sa.select(pending_rescore.c.lead_id, pending_rescore.c.since).where(
        pending_rescore.c.lead_id.in_(sa.bindparam("ids", expanding=True))
    )
    for part in chunks(sorted(set(lead_ids))):
        found.update((str(lead), int(since)) for lead, since in conn.execute(query, {"ids": list(part)}))
    return found


@dataclass
class _Wait:
    mark: int  # the lead's queue mark when the wait began
    # the lead as read by the check that saw it scored
    done: asyncio.Future[LeadView] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class LeadWaits:
    """The waits of one server process (its event loop), at most `limit` at a time.

    `service` is a `leadscore.app.service.LeadService` (its store and `lead`)."""

    def __init__(self, service: Any, *, limit: int = 1000, check_s: float = CHECK_S) -> None:
        self.service = service
        self.limit = limit
        self.check_s = check_s
        self._waits: dict[str, list[_Wait]] = {}
        self._count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._checker: asyncio.Task[None] | None = None
        self._lock = threading.Lock()  # `scored` may come from the rescoring worker's thread
        self._signals = 0  # drains signalled so far
        self._checks = ThreadPoolExecutor(1, thread_name_prefix="leadscore-waits")  # started at the first check
        self._marks = ThreadPoolExecutor(MARK_THREADS, thread_name_prefix="leadscore-wait-marks")

    @property
    def waiting(self) -> int:
        """Waits in progress (the metrics' gauge)."""
        return self._count

    def scored(self) -> None:
        """The rescoring committed a drain: check the waited-for leads now. From any thread."""
        with self._lock:
            loop, wake = self._loop, self._wake
            self._signals += 1
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            if asyncio.get_running_loop() is loop:
                wake.set()
                return
        except RuntimeError:
            pass
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(wake.set)

    async def wait(self, lead_id: str, seconds: float) -> LeadView:
        """The lead once its result covers every event acknowledged for it before this call, or after
        `seconds` as it then is (`pending: true`). NotFound without such a lead; Busy at the
        limit. Cancelling it (the client went away) ends the wait."""
        wake = self._bind()
        signals = self._signals
        mark = await asyncio.get_running_loop().run_in_executor(self._marks, self._mark, lead_id)
        if mark is None:
            raise NotFound(f"no lead {lead_id!r}", field="lead_id")
        if mark != _NOT_QUEUED and seconds > 0:
            if self._count >= self.limit:
                raise Busy(f"the server already holds {self.limit} waits for current results; try again shortly")
            waiting = _Wait(mark)
            self._waits.setdefault(lead_id, []).append(waiting)
            self._count += 1
            try:
                self._start_checker()
                if self._signals != signals:  # a drain since the mark was read: its check may have
                    wake.set()  # run without this wait, so check again now
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(waiting.done, seconds)
            finally:
                self._forget(lead_id, waiting)
        view: LeadView = await asyncio.get_running_loop().run_in_executor(self._marks, self.service.lead, lead_id)
        return view

    def _bind(self) -> asyncio.Event:
        """The wake-up event of the running loop's checker."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._wake is None:  # the first wait, or an app served again (tests)
            with self._lock:
                self._loop, self._wake = loop, asyncio.Event()
            self._checker = None
        return self._wake

    def _mark(self, lead_id: str) -> int | None:
        with self.service.store.read() as conn:
            return lead_mark(conn, lead_id)

    def _check(self, waited: dict[str, set[int]]) -> dict[str, tuple[int, LeadView | ServiceError]]:
        """The leads of `waited` (lead: the marks waited on) that some wait on them sees scored, with
        their queue mark and their view (or why there is none), read in one transaction, a few
        statements whatever the number of leads: a thread of its own per answer, or reads one after
        the other, came late under load (the bulk requests hold the interpreter: a wait was answered up
        to 27 ms, or with one read after the other 700 ms, after a read every 25 ms saw the result)."""
        with self.service.store.read() as conn:
            marks = queue_marks(conn, list(waited))
            done = [lead for lead, mine in waited.items() if mine - {marks.get(lead, _NOT_QUEUED)}]
            if not done:
                return {}
            rows = _lead_rows(conn, done)
            scored = load_result_rows(conn, done)
        now_us = self.service.now_us()
        found: dict[str, tuple[int, LeadView | ServiceError]] = {}
        for lead_id in done:
            mark = marks.get(lead_id, _NOT_QUEUED)
            row = rows.get(lead_id)
            found[lead_id] = (
                mark,
                NotFound(f"no lead {lead_id!r}", field="lead_id")  # erased meanwhile
                if row is None
                else lead_view(row, scored.get(lead_id), now_us, mark != _NOT_QUEUED),
            )
        return found

    def _forget(self, lead_id: str, waiting: _Wait) -> None:
        found = self._waits.get(lead_id, [])
        if waiting in found:
            found.remove(waiting)
            self._count -= 1
        if not found:
            self._waits.pop(lead_id, None)

    def _start_checker(self) -> None:
        if self._checker is None or self._checker.done():
            self._checker = asyncio.get_running_loop().create_task(self._check_while_waited())

    async def _check_while_waited(self) -> None:
        """Until no wait is left: sleep until a drain is signalled or `check_s` passed, then one query."""
        wake = self._wake
        assert wake is not None
        while self._waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.check_s)
            wake.clear()
            waited = {lead_id: {w.mark for w in found} for lead_id, found in self._waits.items()}
            if not waited:
                break
            try:
                # a thread of its own, not the request threads: with them all busy (reads of leads, 40 at
                # most), a check queued behind them and answered its waits after the reads saw the results
                scored = await asyncio.get_running_loop().run_in_executor(self._checks, self._check, waited)
            except Exception as exc:  # the store is unreachable for a moment: the waits time out meanwhile
                log.warning("checking the leads waited for failed: %s", exc)
                continue
            for lead_id, (now, view) in scored.items():
                for waiting in self._waits.get(lead_id, []):
                    if now == waiting.mark or waiting.done.done():
                        continue
                    if isinstance(view, ServiceError):
                        waiting.done.set_exception(view)
                    else:
                        waiting.done.set_result(view)
