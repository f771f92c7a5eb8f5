"""Webhook destinations (never their secrets), trigger messages, the delivery log, dead letters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from leadscore.api.deps import Admin, Reader, ServiceDep, Writer
from leadscore.api.schemas import Redeliver, Requeued
from leadscore.app.results import iso

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Limit = Annotated[int, Query(ge=1, le=1000)]


class DestinationOut(BaseModel):
    name: str
    url: str
    max_attempts: int


class Message(BaseModel):
    id: str
    trigger: str
    lead_id: str
    destination: str | None
    status: str
    attempts: int
    last_error: str | None


class Delivery(BaseModel):
    message_id: str
    trigger: str
    lead_id: str
    destination: str | None
    at: str | None
    attempt: int
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float | None


@router.get("/destinations", response_model=list[DestinationOut], summary="Configured destinations")
def destinations(service: ServiceDep, caller: Admin) -> list[DestinationOut]:
    return [
        DestinationOut(name=d.name, url=d.url, max_attempts=d.max_attempts) for d in service.destinations().values()
    ]


@router.get("/messages", response_model=list[Message], summary="Trigger messages, newest first")
def messages(
    service: ServiceDep,
    caller: Reader,
    status: Literal["pending", "delivered", "dead"] | None = None,
    limit: Limit = 50,
) -> list[Message]:
    return [Message(**m) for m in service.outbox().messages(status, limit)]


@router.get("/dead-letters", response_model=list[Message], summary="Messages that ran out of attempts")
def dead_letters(service: ServiceDep, caller: Reader, limit: Limit = 50) -> list[Message]:
    return [Message(**m) for m in service.outbox().messages("dead", limit)]


def _delivery(row: dict[str, Any]) -> Delivery:
    return Delivery(
        message_id=row["idempotency_key"],
        trigger=row["trigger_id"],
        lead_id=row["lead_id"],
        destination=row["destination"],
        at=iso(row["at"]),
        attempt=row["attempt"],
        ok=row["ok"],
        status_code=row["status_code"],
        error=row["error"],
        duration_ms=row["duration_ms"],
    )


@router.get("/deliveries", response_model=list[Delivery], summary="The delivery log, newest first")
def deliveries(service: ServiceDep, caller: Reader, limit: Limit = 50) -> list[Delivery]:
    return [_delivery(r) for r in service.outbox().log(limit)]


class DeliverIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    limit: int = Field(default=100, ge=1, le=1000, description="at most this many due messages")


class Delivered(BaseModel):
    delivered: int
    retried: int
    dead_lettered: int


@router.post("/deliver", response_model=Delivered, summary="One delivery attempt for each due message")
def deliver(body: DeliverIn, service: ServiceDep, caller: Admin) -> Delivered:
    report = service.deliver_webhooks(body.limit)
    return Delivered(delivered=report.delivered, retried=report.retried, dead_lettered=report.dead_lettered)


@router.post("/redeliver", response_model=Requeued, summary="Queue dead letters again (fresh attempts)")
def redeliver(body: Redeliver, service: ServiceDep, caller: Writer) -> Requeued:
    return Requeued(requeued=service.redeliver(body.ids, body.destination))
