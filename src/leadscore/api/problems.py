"""Every refused request answers with RFC 9457 problem details (`application/problem+json`).

Each problem names what was wrong and, when one field is at fault, where (`errors[].loc` in
FastAPI's location form: `["body", "events", 3, "timestamp"]`). A handler exists for every error
a request can raise, so the API never answers 500 for bad input.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadscore.app.errors import Busy, Conflict, InvalidInput, NoActiveModel, NotFound, NotMigrated, ServiceError
from leadscore.model.errors import ModelError
from leadscore.store.base import StoreError
from leadscore.webhooks.errors import WebhookError

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"

STATUS_OF: tuple[tuple[type[ServiceError], int], ...] = (
    (NotFound, 404),
    (InvalidInput, 422),
    (Conflict, 409),
    (Busy, 429),
    (NotMigrated, 503),
    (NoActiveModel, 503),
)
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="where: body / query / path, then the field path")
    msg: str
    type: str = "invalid"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] = []


class Refused(Exception):
    """A request refused whole, with every problem located; nothing of it was stored."""

    def __init__(self, errors: list[dict[str, Any]], status: int = 422) -> None:
        self.errors = errors
        self.status = status
        super().__init__(f"{describe(errors)}; nothing was stored")


def problem(
    status: int,
    detail: str,
    *,
    request: Request | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        errors=[FieldError(**e) for e in errors or []],
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM, headers=headers)


def _loc(parts: Any) -> list[str | int]:
    return [p if isinstance(p, int) else str(p) for p in parts]


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for e in errors:
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        out.append({"loc": _loc(e.get("loc", ())), "msg": msg, "type": str(e.get("type", "invalid"))})
    return out


def describe(errors: list[dict[str, Any]]) -> str:
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}" if where else f"{first['msg']}{more}"


def status_of(exc: ServiceError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 422


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem details."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc.errors())
        # An unreadable body is a 400; a readable body with bad fields is a 422.
        status = 400 if any(e["type"] == "json_invalid" for e in errors) else 422
        return problem(status, describe(errors), request=request, errors=errors)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        errors = [{"loc": e["loc"], "msg": e["msg"], "type": "refused"} for e in exc.errors]
        return problem(exc.status, str(exc), request=request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else None
        return problem(exc.status_code, str(exc.detail), request=request, headers=headers)

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        errors = [{"loc": ["body", exc.field] if exc.field else [], "msg": exc.message}] if exc.field else None
        headers = {"Retry-After": "1"} if isinstance(exc, Busy) else None
        return problem(status_of(exc), exc.message, request=request, errors=errors, headers=headers)

    @app.exception_handler(RecursionError)
    async def _too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        # JSON nested deeper than any reader can follow; refused before anything was committed
        return problem(
            400,
            "the body is nested too deeply",
            request=request,
            errors=[{"loc": ["body"], "msg": "nested too deeply"}],
        )

    @app.exception_handler(ModelError)
    async def _model(request: Request, exc: ModelError) -> JSONResponse:
        return problem(422, exc.render(), request=request, errors=[{"loc": ["body", "source"], "msg": exc.render()}])

    @app.exception_handler(StoreError)
    @app.exception_handler(WebhookError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        return problem(503, str(exc), request=request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "unexpected error; it is logged on the server", request=request)
