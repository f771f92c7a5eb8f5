"""The sales queue and the account roll-ups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from leadscore.api.deps import Reader, ServiceDep
from leadscore.app.errors import NotFound
from leadscore.app.results import Account, ScoredLead

router = APIRouter(prefix="/v1", tags=["queue"])


@router.get("/queue", response_model=list[ScoredLead], summary="Who sales should pick up first")
def sales_queue(
    service: ServiceDep, caller: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[ScoredLead]:
    return service.queue(limit)


@router.get("/accounts", response_model=list[Account], summary="Accounts with scores rolled up from their leads")
def accounts(service: ServiceDep, caller: Reader) -> list[Account]:
    return service.accounts()


@router.get("/accounts/{account}", response_model=Account, summary="One account")
def account(
    account: Annotated[str, Path(min_length=1, max_length=255)], service: ServiceDep, caller: Reader
) -> Account:
    found = service.accounts(account)
    if not found:
        raise NotFound(f"no account {account!r}", field="account")
    return found[0]
