"""A route with a hand-written path for its common request, for the hot intake endpoints.

FastAPI resolves a route's dependencies, reads and validates its body and serialises its answer
through generic machinery that costs more CPU than storing a single event does (its dependency
resolution alone a third of the HTTP layer's cost). A `LeanRoute` is an ordinary `APIRoute` (the same
OpenAPI operation, the same problem details, the same middleware), whose requests first go to a
`fast` handler written for the common case: a well-formed request with no query. The handler answers
it, or returns None and the request takes FastAPI's path, which then says what is wrong and where,
as it always has. The fast handler must therefore refuse nothing the ordinary path would accept,
and accept nothing it would refuse: it returns None for anything unusual.

    router.add_api_route("", endpoint, methods=["POST"], route_class_override=lean(fast_handler))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

FastHandler = Callable[[Request], Awaitable[Response | None]]
JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"})


class LeanRoute(APIRoute):
    fast: FastHandler

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        ordinary = super().get_route_handler()
        fast = type(self).fast

        async def handle(request: Request) -> Response:
            answer = await fast(request)
            return answer if answer is not None else await ordinary(request)

        return handle


def lean(fast: FastHandler) -> type[APIRoute]:
    """A route class whose requests try `fast` first (see the module's docstring)."""
    return type(f"Lean_{fast.__name__}", (LeanRoute,), {"fast": staticmethod(fast)})


def plain_json(request: Request) -> bool:
    """The request has no query and says its body is JSON in the usual words (anything else takes the
    ordinary path, which checks the content type and the query as it always has)."""
    if request.scope.get("query_string"):
        return False
    content_type = request.headers.get("content-type")
    return content_type is not None and content_type.lower() in JSON_TYPES
