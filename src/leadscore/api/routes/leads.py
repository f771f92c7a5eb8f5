"""Leads: upsert and read, list with filters, a lead's explanation and history, stage moves, sales
outcomes, merge, and (admin) erase and export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from leadscore.api.deps import Admin, Reader, ServiceDep, SettingsDep, Writer
from leadscore.api.disconnect import ClientGone, unless_disconnected
from leadscore.api.paths import LeadId
from leadscore.api.problems import Refused
from leadscore.api.schemas import (
    Erased,
    IngestReport,
    LeadBatch,
    LeadIn,
    MergeIn,
    OutcomeIn,
    StageIn,
)
from leadscore.app.lead_list import LeadFilter, LeadPage, Sort
from leadscore.app.results import Explanation, Export, History, LeadView, ScoredLead
from leadscore.domain import Lead
from leadscore.domain.timeutil import parse_timestamp
from leadscore.store.ingest import lead_problems

router = APIRouter(prefix="/v1/leads", tags=["leads"])
MAX_WAIT_S = 30.0
WaitSeconds = Annotated[
    float | None,
    Query(
        ge=0,
        le=MAX_WAIT_S,
        allow_inf_nan=False,
        description="wait up to this many seconds for the result to include every event acknowledged for the"
        " lead so far (`pending: false`), and answer as soon as it does; after the wait, the lead as it is"
        f" (`pending: true`). At most {MAX_WAIT_S:.0f}; 429 when the server holds too many waits",
    ),
]


def _check_leads(service: ServiceDep, leads: list[Lead], base: tuple[str | int, ...], indexed: bool) -> None:
    found = lead_problems(service.model, leads, list(range(len(leads))), "request")
    if found:
        raise Refused(
            [
                {"loc": [*base, *([e.line] if indexed else []), "attributes", e.column or ""], "msg": e.message}
                for e in found
            ]
        )


@router.get("", response_model=LeadPage, summary="List leads with filters, sorted, a page at a time")
def list_leads(
    service: ServiceDep,
    caller: Reader,
    label: Annotated[str | None, Query(max_length=512, description="label set and label: temperature:hot")] = None,
    stage: Annotated[str | None, Query(max_length=255)] = None,
    playbook: Annotated[str | None, Query(max_length=255)] = None,
    min_score: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    max_score: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    account: Annotated[str | None, Query(max_length=255)] = None,
    q: Annotated[str | None, Query(max_length=255, description="text in the id or an attribute")] = None,
    sort: Sort = "score_desc",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")] = None,
) -> LeadPage:
    filters = LeadFilter(
        label=label, stage=stage, playbook=playbook, min_score=min_score, max_score=max_score, account=account, q=q
    )
    return service.list_leads(filters, sort, limit, cursor)


@router.post("/bulk", response_model=IngestReport, summary="Upsert many leads in one transaction")
def upsert_leads(body: LeadBatch, service: ServiceDep, settings: SettingsDep, caller: Writer) -> IngestReport:
    if len(body.leads) > settings.max_bulk_events:
        raise Refused(
            [{"loc": ["body", "leads"], "msg": f"at most {settings.max_bulk_events} leads per request"}], status=413
        )
    leads = [item.to_lead() for item in body.leads]
    _check_leads(service, leads, ("body", "leads"), indexed=True)
    done = service.ingest_leads(leads)
    return IngestReport(
        received=done.received,
        inserted=done.inserted,
        rescored=done.rescored,
        changed=done.changed,
        triggers=done.triggers,
    )


@router.get("/{lead_id:path}/result", response_model=ScoredLead, summary="The lead's result with its breakdown")
def get_result(lead_id: LeadId, service: ServiceDep, caller: Reader) -> ScoredLead:
    found = service.lead(lead_id).result
    if found is None:
        from leadscore.app.errors import NotFound

        raise NotFound(f"lead {lead_id!r} has no result yet")
    return found


@router.get("/{lead_id:path}/explain", response_model=Explanation, summary="Why the lead has its score")
def explain(
    lead_id: LeadId,
    service: ServiceDep,
    caller: Reader,
    events: Annotated[int, Query(ge=0, le=1000, description="how many recent events")] = 10,
) -> Explanation:
    return service.explain(lead_id, events)


@router.get("/{lead_id:path}/history", response_model=History, summary="Score and stage history, with causes")
def history(lead_id: LeadId, service: ServiceDep, caller: Reader) -> History:
    return service.history(lead_id)


@router.post("/{lead_id:path}/stage", response_model=ScoredLead, summary="Move the lead to a stage by hand")
def set_stage(lead_id: LeadId, body: StageIn, service: ServiceDep, caller: Writer) -> ScoredLead:
    at = parse_timestamp(body.at) if body.at else None
    return ScoredLead.of(service.set_stage(lead_id, body.stage, at))


@router.post("/{lead_id:path}/outcomes", response_model=ScoredLead, summary="Record a sales outcome")
def record_outcome(lead_id: LeadId, body: OutcomeIn, service: ServiceDep, caller: Writer) -> ScoredLead:
    at = parse_timestamp(body.at) if body.at else None
    props = {k: v for k, v in body.properties.items() if v is not None}
    return ScoredLead.of(service.record_outcome(lead_id, body.outcome, at, **props))


@router.post("/{lead_id:path}/merge", response_model=ScoredLead, summary="Merge another lead into this one")
def merge(lead_id: LeadId, body: MergeIn, service: ServiceDep, caller: Writer) -> ScoredLead:
    return ScoredLead.of(service.merge(lead_id, body.other))


@router.get("/{lead_id:path}/export", response_model=Export, summary="Everything held about the lead")
def export(lead_id: LeadId, service: ServiceDep, caller: Admin) -> Export:
    return service.export(lead_id)


# The bare-id routes come last: `{lead_id:path}` also matches `a/explain`, which is the sub-route's.
@router.get("/{lead_id:path}", response_model=LeadView, summary="A lead, its result, and whether the result is current")
async def get_lead(
    lead_id: LeadId, request: Request, service: ServiceDep, caller: Reader, wait: WaitSeconds = None
) -> LeadView | Response:
    if wait is None:
        view: LeadView = await run_in_threadpool(service.lead, lead_id)
        return view
    try:
        return await unless_disconnected(request, request.app.state.waits.wait(lead_id, wait))
    except ClientGone:  # nobody reads the answer; 499 in the metrics, as proxies log it
        return Response(status_code=499)


@router.put("/{lead_id:path}", response_model=LeadView, summary="Create a lead or update its attributes")
def put_lead(lead_id: LeadId, body: LeadIn, service: ServiceDep, caller: Writer) -> LeadView:
    lead = Lead(lead_id, {k: v for k, v in body.attributes.items() if v is not None})
    _check_leads(service, [lead], ("body",), indexed=False)
    service.ingest_leads([lead])
    return service.lead(lead_id)


@router.delete("/{lead_id:path}", response_model=Erased, summary="Erase the lead and everything about it")
def erase(lead_id: LeadId, service: ServiceDep, caller: Admin) -> Erased:
    return Erased(lead_id=lead_id, rows=service.erase(lead_id))
