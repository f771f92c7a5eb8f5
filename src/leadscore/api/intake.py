"""Event intake shared by every way events arrive (leadscore's shape, Segment calls, the tracker):
validate all, refuse the whole request or (with `partial`) keep the good ones, then ingest.

Nothing is acknowledged before it is committed (leadscore.store.ingest): a 2xx means the events are
durable. By default their leads are queued for rescoring in that same transaction and the rescoring
worker (leadscore.app.rescorer) updates their results right after (`pending` in the report counts
them); with `defer_rescoring` off, the results already include the events at the acknowledgement.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from leadscore.api.metrics import Metrics
from leadscore.api.problems import Refused, validation_errors
from leadscore.api.rescore_process import RescoreProcess
from leadscore.api.schemas import EventIn, IngestReport, Rejected
from leadscore.app.committer import Committed, GroupCommitter
from leadscore.app.rescorer import RescoreWorker
from leadscore.app.service import LeadService
from leadscore.domain import Event
from leadscore.store.event_columns import CHECKED_TYPES
from leadscore.store.ingest import BatchOutcome, event_problems
from leadscore.store.pending import writer_turn

GROUPED_MAX = 1000  # larger requests are big enough batches on their own

_ITEM = TypeAdapter(EventIn)


def model_problems(service: LeadService, events: Sequence[Event], base: Sequence[str | int]) -> dict[int, Rejected]:
    """Events that read fine but that the model cannot take (an unknown stage, an identify without id)."""
    found = event_problems(service.model, events, list(range(len(events))), "request")
    return {
        e.line: Rejected(index=e.line, loc=[*base, e.line, e.column or "event"], msg=e.message)
        for e in found
        if e.line is not None
    }


def parse_items(raw: list[Any], base: Sequence[str | int]) -> tuple[list[tuple[int, EventIn]], list[Rejected]]:
    good: list[tuple[int, EventIn]] = []
    bad: list[Rejected] = []
    for i, item in enumerate(raw):
        try:
            good.append((i, _ITEM.validate_python(item, strict=True)))
        except ValidationError as exc:
            err = validation_errors(exc.errors())[0]
            bad.append(Rejected(index=i, loc=[*base, i, *err["loc"]], msg=err["msg"]))
    return good, bad


def screen(
    service: LeadService,
    events: Sequence[Event],
    *,
    partial: bool,
    rejected: list[Rejected] | None,
    indexes: list[int] | None,
    base: Sequence[str | int],
) -> tuple[Sequence[Event], IngestReport]:
    """The events to store and the report so far; raises Refused when some are bad and not `partial`.
    Events the model takes whole are kept as they came (plain events as columns, a bulk request's usual
    body, stay columns: leadscore.store.event_columns)."""
    rejected = list(rejected or [])
    received = len(events) + len(rejected)
    problems = model_problems(service, events, base) if events else {}
    keep: Sequence[Event] = events
    if problems:
        indexes = indexes if indexes is not None else list(range(len(events)))
        keep = [event for pos, event in enumerate(events) if pos not in problems]
        for pos, problem in problems.items():
            rejected.append(
                Rejected(index=indexes[pos], loc=[*base, indexes[pos], *problem.loc[len(base) + 1 :]], msg=problem.msg)
            )
    rejected.sort(key=lambda r: r.index)
    if rejected and (not partial or not keep):  # with `partial`, a request of which nothing is good is refused
        raise Refused([r.model_dump() for r in rejected])
    return keep, IngestReport(received=received, inserted=0, rescored=0, changed=0, triggers=0, rejected=rejected)


def _finish(
    request: Request, report: IngestReport, done: Committed | BatchOutcome, start: float, source: str
) -> IngestReport:
    metrics: Metrics = request.app.state.metrics
    metrics.scoring.observe(time.perf_counter() - start)
    metrics.ingested(source, done.inserted)
    report.inserted, report.rescored, report.changed, report.triggers, report.pending = (
        done.inserted,
        done.rescored,
        done.changed,
        done.triggers,
        done.pending,
    )
    return report


def ingest(
    request: Request,
    service: LeadService,
    events: Sequence[Event],
    *,
    partial: bool = False,
    rejected: list[Rejected] | None = None,
    indexes: list[int] | None = None,
    base: Sequence[str | int] = ("body", "events"),
    source: str = "api",
    wait: bool = False,
) -> IngestReport:
    """Ingest `events` (positions `indexes` of the request) unless some are refused and not `partial`.

    Blocking: call it from a worker thread. Small requests share transactions (leadscore.app.committer);
    `wait`: the leads are rescored before the acknowledgement, whatever the server's setting.
    """
    keep, report = screen(service, events, partial=partial, rejected=rejected, indexes=indexes, base=base)
    if not keep:
        return report
    start = time.perf_counter()
    if wait:  # rescored in the acknowledging transaction, as one batch of its own
        done: Committed | BatchOutcome = service.ingest_events(keep)
    elif len(keep) <= GROUPED_MAX:
        committer: GroupCommitter = request.app.state.committer
        done = committer.ingest(keep)
    else:
        rescorer: RescoreWorker | RescoreProcess | None = request.app.state.rescorer
        # SQLite: the writers' turn, as the group commit and the drain take it. Without it the request
        # met the write lock in SQLite's busy handler, which sleeps 1, 2, 5 ... 100 ms between looks,
        # while the others look every millisecond: the drain's writes and the single events' commits
        # went first each time the lock came free, and the other bulk request's commit was followed
        # by up to 100 ms of nobody writing (traced: 0.1-0.6 s of a 1-2 s run of 6 bulk requests
        # with the lock free and this request asleep). Under the turn it waits in the kernel and
        # goes on as soon as the holder is done.
        if rescorer is not None:  # its backlog drains wait while bulk requests come (leadscore.app.rescorer)
            rescorer.bulk_started()
        try:
            with writer_turn(service.store):
                done = service.ingest_events(keep, defer=rescorer is not None)
        finally:
            if rescorer is not None:  # and it drains now (real-time leads)
                rescorer.bulk_ended()
    return _finish(request, report, done, start, source)


async def ingest_one(request: Request, service: LeadService, event: Event) -> Response | None:
    """`ingest_small` of one event in leadscore's shape, for the shortcut (leadscore.api.lean): its
    report's JSON built once per outcome (`report_response`), no `IngestReport` made for it. None
    for an event the model may refuse (`CHECKED_TYPES`): the ordinary path checks it and says why."""
    if event.type in CHECKED_TYPES:
        return None
    start = time.perf_counter()
    committer: GroupCommitter = request.app.state.committer
    done = await committer.submit_async([event])
    metrics: Metrics = request.app.state.metrics
    metrics.scoring.observe(time.perf_counter() - start)
    metrics.ingested("api", done.inserted)
    return report_response(done)


_REPORT = TypeAdapter(IngestReport)
_ANSWERS: dict[tuple[int, ...], tuple[bytes, list[tuple[bytes, bytes]]]] = {}


class _Prebuilt(Response):
    """A 200 whose body and headers were built before (Starlette's `init_headers` skipped)."""

    def __init__(self, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = list(headers)


def report_response(done: Committed) -> Response:
    """The answer to a request of one event: the JSON of its `IngestReport` (nothing rejected), made
    by the report's own serialiser the first time an outcome is met, then reused (a few outcomes:
    inserted or not, the leads the commit queued)."""
    key = (done.received, done.inserted, done.rescored, done.changed, done.triggers, done.pending)
    found = _ANSWERS.get(key)
    if found is None:
        report = IngestReport(
            received=key[0], inserted=key[1], rescored=key[2], changed=key[3], triggers=key[4], pending=key[5]
        )
        body = _REPORT.dump_json(report)
        found = body, Response(body, media_type="application/json").raw_headers
        if len(_ANSWERS) < 1000:  # grouped commits count every lead of the group: outcomes vary a little
            _ANSWERS[key] = found
    return _Prebuilt(*found)


async def ingest_small(
    request: Request,
    service: LeadService,
    events: list[Event],
    *,
    base: Sequence[str | int],
    source: str = "api",
    wait: bool = False,
) -> IngestReport:
    """`ingest` for a request of a few events, from the event loop: it waits for the group commit
    without holding a worker thread."""
    if wait:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(ingest, request, service, events, base=base, source=source, wait=True)
    keep, report = screen(service, events, partial=False, rejected=None, indexes=None, base=base)
    if not keep:
        return report
    start = time.perf_counter()
    committer: GroupCommitter = request.app.state.committer
    done = await committer.submit_async(keep)
    return _finish(request, report, done, start, source)
