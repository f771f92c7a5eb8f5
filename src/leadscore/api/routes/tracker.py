"""The first-party tracker: its script (/t.js), its intake (/v1/t, Segment calls sent with
`navigator.sendBeacon`) and a demo page (/demo/tracker).

The intake key travels in `?key=` (a beacon cannot set headers). A key limited to origins is
refused from any other origin; the answer carries CORS headers only for an allowed origin.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from starlette.concurrency import run_in_threadpool

from leadscore.api.deps import BeaconCaller, ServiceDep, SettingsDep
from leadscore.api.problems import Refused
from leadscore.api.routes.segment import _run, policy_for
from leadscore.api.schemas import IngestReport
from leadscore.api.segment import Batch

router = APIRouter(tags=["tracker"])
STATIC = Path(__file__).resolve().parent.parent / "static"
TOKEN = re.compile(r"^lsk_[0-9a-f]{12}_[A-Za-z0-9_-]{20,100}$")


def _cors(request: Request, response: Response) -> None:
    origin = request.headers.get("origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


@router.get("/t.js", include_in_schema=False)
def script() -> FileResponse:
    return FileResponse(
        STATIC / "tracker.js",
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.post(
    "/v1/t",
    response_model=IngestReport,
    summary="The tracker's intake: a batch of Segment calls (text/plain JSON, from sendBeacon)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/plain": {"schema": Batch.model_json_schema()},
                "application/json": {"schema": Batch.model_json_schema()},
            },
        }
    },
)
async def beacon(
    request: Request,
    response: Response,
    service: ServiceDep,
    settings: SettingsDep,
    caller: BeaconCaller,
    partial: Annotated[bool, Query(description="keep the good calls, return the bad ones")] = False,
) -> IngestReport:
    from pydantic import ValidationError

    from leadscore.api.problems import validation_errors

    try:
        data: Any = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Refused([{"loc": ["body"], "msg": f"not JSON: {exc}"}], status=400) from None
    try:
        parsed = Batch.model_validate(data)
    except ValidationError as exc:
        raise Refused(validation_errors(exc.errors())) from None
    if len(parsed.batch) > settings.max_bulk_events:
        raise Refused([{"loc": ["body", "batch"], "msg": f"at most {settings.max_bulk_events} calls"}], status=413)
    _cors(request, response)
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


@router.options("/v1/t", include_in_schema=False)
def preflight(request: Request, caller: BeaconCaller) -> Response:
    response = Response(status_code=204)
    _cors(request, response)
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return response


@router.get("/demo/tracker", include_in_schema=False)
@router.get("/demo/tracker/{page}", include_in_schema=False)
def demo(key: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    page = (STATIC / "demo-tracker.html").read_text(encoding="utf-8")
    shown = key if TOKEN.match(key) else ""
    return HTMLResponse(page.replace("{{KEY}}", html.escape(shown, quote=True)))
