"""Events in leadscore's own shape: one, or up to 10,000 in one request."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import TypeAdapter, ValidationError

from leadscore.api.deps import Intake, ServiceDep, SettingsDep
from leadscore.api.intake import ingest, ingest_small, parse_items
from leadscore.api.problems import Refused
from leadscore.api.schemas import EventBatch, EventIn, IngestReport, Rejected

router = APIRouter(prefix="/v1/events", tags=["events"])
Wait = Annotated[
    bool,
    Query(
        description="acknowledge only once the leads are rescored (the result includes the events); by default"
        " the acknowledgement comes once the events are stored, and the rescoring right after"
    ),
]


def batch_schema() -> dict[str, Any]:
    """The bulk body is read by hand (so a bad event can be kept apart); its schema is still documented,
    pointing at the single event's schema."""
    schema = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


@router.post(
    "",
    response_model=IngestReport,
    summary="Send one event; it is stored (durably) when this returns, and scored right after",
)
async def send_event(
    body: EventIn, request: Request, service: ServiceDep, caller: Intake, wait: Wait = False
) -> IngestReport:
    return await ingest_small(request, service, [body.to_event()], base=("body",), wait=wait)


_WHOLE = TypeAdapter(EventBatch)


def _all_good(raw: bytes, limit: int) -> list[EventIn] | None:
    """The events of a body that is valid whole, parsed and validated in one call (a third of the cost
    of parsing the JSON, then validating event by event); None for any other body, which `_batch` and
    `parse_items` then read event by event to say what is wrong where (and with `partial`, keep the rest).
    Any body this accepts, the event-by-event path accepts with the same events."""
    try:
        events = _WHOLE.validate_json(raw, strict=True).events
    except ValidationError:
        return None
    return events if len(events) <= limit else None


def _batch(raw: bytes, limit: int) -> list[Any]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Refused([{"loc": ["body"], "msg": f"not JSON: {exc}"}], status=400) from None
    if not isinstance(data, dict) or set(data) != {"events"} or not isinstance(data["events"], list):
        raise Refused([{"loc": ["body"], "msg": 'expected an object {"events": [...]} and nothing else'}])
    items: list[Any] = data["events"]
    if not items:
        raise Refused([{"loc": ["body", "events"], "msg": "at least one event is needed"}])
    if len(items) > limit:
        raise Refused(
            [{"loc": ["body", "events"], "msg": f"{len(items)} events; at most {limit} per request"}], status=413
        )
    return items


@router.post(
    "/bulk",
    response_model=IngestReport,
    summary="Send many events in one transaction",
    description="One bad event refuses the whole request (422, every problem listed, nothing stored); with "
    "`?partial=true` the good events are stored and the bad ones returned in `rejected` with their reasons.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": batch_schema()}},
        }
    },
)
async def send_events(
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    caller: Intake,
    partial: Annotated[bool, Query(description="keep the good events, return the bad ones")] = False,
    wait: Wait = False,
) -> IngestReport:
    from starlette.concurrency import run_in_threadpool

    raw = await request.body()
    valid = _all_good(raw, settings.max_bulk_events)
    good: list[tuple[int, EventIn]]
    bad: list[Rejected]
    if valid is not None:
        good, bad = list(enumerate(valid)), []
    else:
        good, bad = parse_items(_batch(raw, settings.max_bulk_events), ("body", "events"))
    if bad and (not partial or not good):
        raise Refused([r.model_dump() for r in bad])
    events = [item.to_event() for _, item in good]
    return await run_in_threadpool(
        ingest, request, service, events, partial=partial, rejected=bad, indexes=[i for i, _ in good], wait=wait
    )
