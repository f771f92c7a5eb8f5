"""Health (is the process up), readiness (can it serve: schema migrated, a model active) and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from leadscore.api import metrics
from leadscore.api.deps import Reader, ServiceDep, Writer
from leadscore.app.errors import ServiceError

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    detail: str | None = None


@router.get("/health", response_model=Health, summary="The process answers")
def health() -> Health:
    return Health(status="ok")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="The store is migrated and a model is active",
    responses={503: {"model": Readiness, "description": "not ready, with the reason"}},
)
def ready(service: ServiceDep) -> Response | Readiness:
    try:
        service.evaluator  # noqa: B018  (builds the evaluator: schema checked, model loaded)
    except ServiceError as exc:
        return JSONResponse(Readiness(status="unavailable", detail=str(exc)).model_dump(), status_code=503)
    except Exception as exc:  # a store that cannot be reached is not ready, whatever the driver raised
        return JSONResponse(Readiness(status="unavailable", detail=type(exc).__name__).model_dump(), status_code=503)
    return Readiness(status="ok")


class Refreshed(BaseModel):
    leads: int
    changed: int
    triggers: int


@router.post(
    "/v1/refresh",
    response_model=Refreshed,
    tags=["leads"],
    summary="Apply time-driven changes (decay, windows) to the leads that are due",
)
def refresh(service: ServiceDep, caller: Writer) -> Refreshed:
    done = service.refresh()
    return Refreshed(leads=done.leads, changed=done.changed, triggers=len(done.firings))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def prometheus(request: Request, caller: Reader) -> Response:
    return metrics.exposition(request.app)
