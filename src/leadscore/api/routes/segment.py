"""Segment-compatible intake: `identify`, `track`, `page`, `screen`, `group`, `alias` and `batch`, as Segment,
RudderStack and Jitsu send them (the write key as Bearer token or as the Basic user name).

See leadscore.api.segment for the mapping. As everywhere, one bad call refuses the whole request
unless `?partial=true`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from leadscore.api.deps import Intake, ServiceDep, SettingsDep
from leadscore.api.intake import ingest
from leadscore.api.problems import Refused
from leadscore.api.schemas import IngestReport, Rejected
from leadscore.api.segment import Batch, Call, Policy, map_calls
from leadscore.app.errors import NotFound
from leadscore.app.service import LeadService
from leadscore.store.api_keys import KeyInfo

router = APIRouter(prefix="/v1/segment", tags=["segment"])
Partial = Annotated[bool, Query(description="keep the good calls, return the bad ones")]


def _schema(model: type[Call] | type[Batch]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Refused([{"loc": ["body"], "msg": f"not JSON: {exc}"}], status=400) from None


def policy_for(request: Request, service: LeadService, caller: KeyInfo) -> Policy:
    """What this caller's calls may do: merge known leads by alias (write keys), identify from URLs."""

    def known(lead_id: str) -> bool:
        try:
            service.person(lead_id)
        except NotFound:
            return False
        return True

    return Policy(merge_known=caller.allows("write"), url_identify=request.app.state.settings.url_identify, known=known)


def _run(
    request: Request, service: LeadService, raw: list[Any], partial: bool, base: list[str | int], **options: Any
) -> IngestReport:
    mapped, problems = map_calls(raw, service.now(), base=base, **options)
    rejected = [Rejected(index=i, loc=loc, msg=msg) for i, loc, msg in problems]
    if rejected and (not partial or (not mapped.events and not mapped.leads)):
        raise Refused([r.model_dump() for r in rejected])
    # The calls' own problems are merged in afterwards, so a request whose good calls only update leads
    # (identify traits, group) keeps them under `partial` even though it holds no event. Events that the
    # model refuses raise before anything is written (or, all refused, even under `partial`).
    report = IngestReport(received=0, inserted=0, rescored=0, changed=0, triggers=0)
    if mapped.events:
        report = ingest(
            request, service, mapped.events, partial=partial, indexes=mapped.indexes, base=base, source="segment"
        )
    if mapped.leads:
        service.ingest_leads(mapped.leads, source="segment")
    report.rejected = sorted([*rejected, *report.rejected], key=lambda r: r.index)
    report.received = len(raw)
    return report


async def _calls(
    request: Request, service: LeadService, caller: KeyInfo, forced: str | None, partial: bool
) -> IngestReport:
    data = _json(await request.body())
    if not isinstance(data, dict):
        raise Refused([{"loc": ["body"], "msg": "expected a call object"}])
    policy = policy_for(request, service, caller)
    return await run_in_threadpool(_run, request, service, [data], partial, ["body"], forced=forced, policy=policy)


@router.post("/batch", response_model=IngestReport, summary="A Segment batch of calls", openapi_extra=_schema(Batch))
async def batch(
    request: Request, service: ServiceDep, settings: SettingsDep, caller: Intake, partial: Partial = False
) -> IngestReport:
    data = _json(await request.body())
    if not isinstance(data, dict):
        raise Refused([{"loc": ["body"], "msg": 'expected {"batch": [...]}'}])
    from pydantic import ValidationError

    from leadscore.api.problems import validation_errors

    try:
        parsed = Batch.model_validate(data)
    except ValidationError as exc:
        raise Refused(validation_errors(exc.errors())) from None
    if len(parsed.batch) > settings.max_bulk_events:
        raise Refused([{"loc": ["body", "batch"], "msg": f"at most {settings.max_bulk_events} calls"}], status=413)
    return await run_in_threadpool(
        _run,
        request,
        service,
        parsed.batch,
        partial,
        ["body", "batch"],
        context=parsed.context,
        sent_at=parsed.sentAt,
        policy=policy_for(request, service, caller),
    )


@router.post(
    "", response_model=IngestReport, summary="Any one call (its `type` says which)", openapi_extra=_schema(Call)
)
async def any_call(request: Request, service: ServiceDep, caller: Intake) -> IngestReport:
    return await _calls(request, service, caller, None, False)


def _typed(kind: str) -> None:
    async def call(request: Request, service: ServiceDep, caller: Intake) -> IngestReport:
        return await _calls(request, service, caller, kind, False)

    call.__name__ = f"segment_{kind}"
    router.add_api_route(
        f"/{kind}",
        call,
        methods=["POST"],
        response_model=IngestReport,
        summary=f"A Segment {kind} call",
        openapi_extra=_schema(Call),
    )


for _kind in ("identify", "track", "page", "screen", "group", "alias"):
    _typed(_kind)
