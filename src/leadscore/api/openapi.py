"""The OpenAPI document as the server really answers: every error is problem details.

FastAPI documents validation errors as its own `HTTPValidationError` under `application/json`;
this API answers every error (validation included) with RFC 9457 problem details, so each
operation's error responses are rewritten to `application/problem+json` with the `Problem` schema,
and the statuses any operation can return (400, 401, 403, 413, 422, 429, 503) are documented.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from leadscore.api.problems import TITLES, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
COMMON = (400, 401, 403, 404, 409, 413, 422, 429, 500, 503)


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": TITLES.get(status, "Error"),
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }


def install(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for sub in schemas["Problem"].pop("$defs", {}).items():
            schemas.setdefault(*sub)
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for path, ops in doc.get("paths", {}).items():
            for op in ops.values():
                responses = op.setdefault("responses", {})
                for code in list(responses):
                    if code.isdigit() and int(code) >= 400:
                        responses[code] = _problem(int(code))
                open_route = path in ("/health",)
                for status in COMMON:
                    if open_route and status not in (400, 413, 500):
                        continue
                    responses.setdefault(str(status), _problem(status))
        app.openapi_schema = doc
        return doc

    app.openapi = document  # type: ignore[method-assign]
