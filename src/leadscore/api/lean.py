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

Before routing, `Shortcut` (the app's outermost middleware) gives the hottest of these requests to
the same handler, so that the common request skips the middleware stack and the route matching too
(with one client, a third of the server's event-loop CPU per request); whatever the handler does not
answer, or answers with an error, goes down the ordinary stack (through the `LeanRoute` again, which
then leaves it to FastAPI's path).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FastHandler = Callable[[Request], Awaitable[Response | None]]
JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"})


class LeanRoute(APIRoute):
    fast: FastHandler

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        ordinary = super().get_route_handler()
        fast = type(self).fast

        async def handle(request: Request) -> Response:
            if request.scope.get(TRIED):  # the shortcut tried it already: FastAPI's path says what is wrong
                return await ordinary(request)
            answer = await fast(request)
            return answer if answer is not None else await ordinary(request)

        return handle


def lean(fast: FastHandler) -> type[APIRoute]:
    """A route class whose requests try `fast` first (see the module's docstring)."""
    return type(f"Lean_{fast.__name__}", (LeanRoute,), {"fast": staticmethod(fast)})


TRIED = "leadscore.lean_tried"


class Shortcut:
    """ASGI middleware: a request with no query to one of `routes` ({(method, path): handler}) whose
    Content-Length is within `max_bytes` is answered by its handler before the middleware stack and
    the routing; the requests and latencies metrics count it as `Measure` would (`metrics`).

    A request the handler leaves (None) or fails on (any exception: a bad key, a refused event, a
    commit that failed and so wrote nothing) continues down the ordinary stack with its body as read,
    which answers it as if the shortcut did not exist (problem details, status, body limit)."""

    def __init__(self, app: ASGIApp, routes: dict[tuple[str, str], FastHandler], max_bytes: int, metrics: Any) -> None:
        self.app = app
        self.routes = routes
        self.max_bytes = max_bytes
        self.metrics = metrics
        # the metrics' children by (method, route, status): `labels()` looks them up under a lock and
        # checks its arguments on every call, a tenth of the shortcut's own CPU per request
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("query_string"):
            path = scope["path"].removeprefix(scope.get("root_path", ""))
            fast = self.routes.get((scope["method"], path))
            if fast is not None and self._small(scope):
                await self._try(fast, path, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _small(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                return value.isdigit() and int(value) <= self.max_bytes
        return False  # streamed without a length: the body limit counts it on the ordinary path

    async def _try(self, fast: FastHandler, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        request = Request(scope, receive)
        try:
            answer = await fast(request)
        except Exception:
            answer = None
        if answer is not None:
            await answer(scope, receive, send)
            key = (scope["method"], path, answer.status_code)
            children = self._children.get(key)
            if children is None:
                metrics = self.metrics
                children = metrics.requests.labels(key[0], path, str(key[2])), metrics.latency.labels(key[0], path)
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - start)
            return
        body = await request.body()  # read by the handler, or now: the ordinary path reads it again
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # a disconnect

        await self.app({**scope, TRIED: True}, replay, send)


def plain_json(request: Request) -> bool:
    """The request has no query and says its body is JSON in the usual words (anything else takes the
    ordinary path, which checks the content type and the query as it always has)."""
    if request.scope.get("query_string"):
        return False
    content_type = request.headers.get("content-type")
    return content_type is not None and content_type.lower() in JSON_TYPES
