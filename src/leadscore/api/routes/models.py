"""Scoring models: the active one, the versions, validate, plan (what would change) and apply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from leadscore.api.deps import Admin, Reader, ServiceDep
from leadscore.api.schemas import AppliedOut, ApplyIn, ModelIn, ModelOut, PlanOut, Validation
from leadscore.app.errors import NoActiveModel, NotFound
from leadscore.app.results import iso
from leadscore.model import ModelError, model_version, parse_model
from leadscore.store.models_repo import StoredModel

router = APIRouter(prefix="/v1/models", tags=["models"])
SOURCE = "request body: source"


def _out(stored: StoredModel, source: bool) -> ModelOut:
    return ModelOut(
        version=stored.version,
        name=stored.name,
        applied_at=iso(stored.applied_at),
        active=stored.active,
        source=stored.source if source else None,
    )


@router.get("", response_model=list[ModelOut], summary="Every model version the store has held")
def versions(service: ServiceDep, caller: Reader) -> list[ModelOut]:
    return [_out(m, False) for m in service.models()]


@router.get("/active", response_model=ModelOut, summary="The active model, with its YAML text")
def active(service: ServiceDep, caller: Reader) -> ModelOut:
    found = service.active_model()
    if found is None:
        raise NoActiveModel("no active model")
    return _out(found, True)


@router.get("/{version}", response_model=ModelOut, summary="One model version, with its YAML text")
def version(
    version: Annotated[str, Path(min_length=1, max_length=64)], service: ServiceDep, caller: Reader
) -> ModelOut:
    for stored in service.models():
        if stored.version == version:
            return _out(stored, True)
    raise NotFound(f"no model version {version!r}", field="version")


@router.post("/validate", response_model=Validation, summary="Check a model (every problem located)")
def validate(body: ModelIn, caller: Reader) -> Validation:
    try:
        model = parse_model(body.source, source=SOURCE)
    except ModelError as exc:
        return Validation(valid=False, errors=exc.render().splitlines())
    return Validation(valid=True, version=model_version(model), name=model.name)


@router.post("/plan", response_model=PlanOut, summary="What a model would change on today's data (writes nothing)")
def plan(body: ModelIn, service: ServiceDep, caller: Admin) -> PlanOut:
    model = parse_model(body.source, source=SOURCE)
    return PlanOut(**service.plan_parsed(model, None).to_dict())


@router.post("/apply", response_model=AppliedOut, summary="Make a model active and rescore every lead")
def apply(body: ApplyIn, service: ServiceDep, caller: Admin) -> AppliedOut:
    model = parse_model(body.source, source=SOURCE)
    done = service.apply_parsed(model, body.source, None, quiet=body.quiet)
    return AppliedOut(
        version=done.version,
        previous=done.previous,
        leads=done.rescored.leads,
        changed=done.rescored.changed,
        triggers=len(done.rescored.firings),
    )
