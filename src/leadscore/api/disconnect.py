"""Long requests that end when their client goes away.

A request that waits (`GET /v1/leads/{id}?wait=`) holds a slot of a bounded pool while it waits; a
client that closes its connection meanwhile would keep that slot until the wait ran out, since the
server only learns of it when it sends the answer. `unless_disconnected` runs the work beside a
watch of the request's `receive` channel, where the server reports the disconnection, and cancels
the work then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.types import Receive

T = TypeVar("T")


class ClientGone(Exception):
    """The client closed the connection before the answer was ready."""


async def _disconnected(receive: Receive) -> None:
    while True:  # a request's body (empty here) comes first; then only the disconnection
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """`work`'s value, or ClientGone (with `work` cancelled) if the client goes away first."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(_disconnected(request.receive))
    try:
        done, _ = await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # cancelled from outside (the server shutting down): both go too
        task.cancel()
        watch.cancel()
        raise
    watch.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task  # its cleanup (the wait forgotten) done before the request ends
    raise ClientGone
