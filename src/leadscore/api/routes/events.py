"""Events in leadscore's own shape: one, or up to 10,000 in one request."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from leadscore.api.auth import token_from_header
from leadscore.api.bulk_body import events_of
from leadscore.api.deps import Intake, ServiceDep, SettingsDep, authenticate, authorize
from leadscore.api.intake import ingest, ingest_one, ingest_small, parse_items
from leadscore.api.lean import lean, plain_json
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


async def send_event(
    body: EventIn, request: Request, service: ServiceDep, caller: Intake, wait: Wait = False
) -> IngestReport:
    return await ingest_small(request, service, [body.to_event()], base=("body",), wait=wait)


_ONE = TypeAdapter(EventIn)


async def send_event_fast(request: Request) -> Response | None:
    """`send_event` for the common request (no query, a JSON body that is one valid event), without
    FastAPI's dependency resolution; None for any other request, which `send_event` then answers.

    The order of the checks is the ordinary path's: the body is read and validated before the key is
    checked, so a request with a bad body and a bad key gets the same answer on both paths."""
    if not plain_json(request):
        return None
    raw = await request.body()
    try:
        event = _ONE.validate_json(raw, strict=True)
    except ValidationError:
        return None  # the ordinary path names the field
    caller = authenticate(request, token_from_header(request.headers.get("authorization")))
    authorize(request, caller, "intake")
    return await ingest_one(request, request.app.state.service, event.to_event())


router.add_api_route(
    "",
    send_event,
    methods=["POST"],
    response_model=IngestReport,
    summary="Send one event; it is stored (durably) when this returns, and scored right after",
    route_class_override=lean(send_event_fast),
)


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
    events = events_of(raw, settings.max_bulk_events)  # the usual body: valid whole, read in one call
    indexes: list[int] | None = None
    bad: list[Rejected] = []
    if events is None:
        good, bad = parse_items(_batch(raw, settings.max_bulk_events), ("body", "events"))
        if bad and (not partial or not good):
            raise Refused([r.model_dump() for r in bad])
        events, indexes = [item.to_event() for _, item in good], [i for i, _ in good]
    return await run_in_threadpool(
        ingest, request, service, events, partial=partial, rejected=bad, indexes=indexes, wait=wait
    )
