"""API keys over HTTP (admin): create, list, revoke. The token is in the create response only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from leadscore.api.deps import Admin, ServiceDep
from leadscore.app.results import iso
from leadscore.store.api_keys import KeyInfo

router = APIRouter(prefix="/v1/keys", tags=["keys"])
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="the key's id")]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=255)
    scopes: list[str] = Field(min_length=1, max_length=4, description="read, write, admin, intake")
    origins: list[str] = Field(default=[], max_length=100, description="sites an intake key may send from")


class KeyOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    origins: list[str]
    created_at: str
    revoked_at: str | None = None

    @classmethod
    def of(cls, info: KeyInfo) -> KeyOut:
        return cls(
            id=info.id,
            name=info.name,
            scopes=sorted(info.scopes),
            origins=list(info.origins),
            created_at=iso(info.created_at) or "",
            revoked_at=iso(info.revoked_at),
        )


class NewKey(KeyOut):
    token: str = Field(description="shown once; only its hash is stored")


@router.post("", response_model=NewKey, status_code=201, summary="Create a key (its token is shown once)")
def create_key(body: KeyIn, service: ServiceDep, caller: Admin) -> NewKey:
    info, token = service.create_key(body.name, body.scopes, body.origins)
    return NewKey(**KeyOut.of(info).model_dump(), token=token)


@router.get("", response_model=list[KeyOut], summary="Every key (never its token)")
def list_keys(service: ServiceDep, caller: Admin) -> list[KeyOut]:
    return [KeyOut.of(k) for k in service.api_keys()]


@router.delete("/{key_id}", response_model=KeyOut, summary="Revoke a key")
def revoke_key(key_id: KeyId, request: Request, service: ServiceDep, caller: Admin) -> KeyOut:
    info = service.revoke_key(key_id)
    request.app.state.key_cache.forget(key_id)
    return KeyOut.of(info)
