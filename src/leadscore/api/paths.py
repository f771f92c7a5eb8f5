"""Lead ids in paths: any id (with `/`, `%`, `?`, `#`, spaces, any script) addresses its lead.

A client puts the id in the path as one percent-encoded segment (`quote(id, safe="")`: `a/b` is
`a%2Fb`). The server decodes the path before routing, so `%2F` would become a `/` that splits the
segment; `KeepSlashes` therefore rebuilds the path of `/v1/leads/...` from the raw request target,
decoding every escape except `%2F` and `%25`, and `LeadId` decodes those two in the id. An id is
then exact whatever it holds (`a/explain` encoded is the lead `a/explain`, never the explanation
of `a`).

The lead routes also take an id with a bare `/` (`/v1/leads/a/b`, as a hand-typed URL has it):
the sub-routes (`/explain`, `/history`, ...) are matched first, so only an id that ends in a
sub-route's name needs the encoding.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import Depends, Path
from starlette.types import ASGIApp, Receive, Scope, Send

from leadscore.io.limits import MAX_ID_CHARS

_KEPT = re.compile(r"(%2[fF]|%25)")  # the two escapes decoded only once the route has cut the id out


def keep_slashes(raw: str) -> str:
    """The path `raw` decoded, but for `%2F` and `%25` (kept, in upper case)."""
    parts = _KEPT.split(raw)
    return "".join(part.upper() if i % 2 else unquote(part, errors="replace") for i, part in enumerate(parts))


class KeepSlashes:
    """ASGI middleware: paths under `prefixes` are routed with `%2F` and `%25` still encoded."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root = scope.get("root_path", "")  # behind a proxy prefix, both paths carry it
            raw = scope.get("raw_path")
            if raw and scope["path"].startswith(tuple(root + p for p in self.prefixes)):
                path = keep_slashes(raw.decode("latin-1"))
                scope = {**scope, "path": path if path.startswith(root) else root + path}
        await self.app(scope, receive, send)


def _lead_id(
    lead_id: Annotated[
        str,
        Path(
            min_length=1,
            description=f"the lead's id (at most {MAX_ID_CHARS} characters), percent-encoded as one path "
            "segment: `a/b` is `a%2Fb`",
            json_schema_extra={"maxLength": MAX_ID_CHARS},
        ),
    ],
) -> str:
    from leadscore.api.problems import Refused

    decoded = unquote(lead_id) if "%" in lead_id else lead_id
    if len(decoded) > MAX_ID_CHARS:
        raise Refused([{"loc": ["path", "lead_id"], "msg": f"at most {MAX_ID_CHARS} characters"}])
    return decoded


LeadId = Annotated[str, Depends(_lead_id)]


def lead_path(lead_id: str) -> str:
    """The path segment for `lead_id` (what a client writes after `/v1/leads/`)."""
    from urllib.parse import quote

    return quote(lead_id, safe="")


def install(app: Any) -> None:
    app.add_middleware(KeepSlashes, prefixes=("/v1/leads/",))
