"""Dependencies the routes declare with `Annotated`: the service, the settings and the caller.

They are coroutines (a key look-up is one primary-key read, and is cached), so resolving them costs
no worker-thread hop per request.

    @router.get("/leads/{lead_id}")
    def get_lead(lead_id: str, service: ServiceDep, caller: Reader) -> ...

`Reader`, `Writer`, `Admin` and `Intake` authenticate the caller and check the scope: 401 without
a valid key, 403 for a key without the scope. An intake key (the public key a web page embeds) is
accepted only from its allowed origins, within its rate limits.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer

from leadscore.api.auth import KeyCache, KeyInfo, token_from_header
from leadscore.api.limits import RateLimiter
from leadscore.api.settings import ApiSettings
from leadscore.app.service import LeadService

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer lsk_...`")
query_key = APIKeyQuery(name="key", auto_error=False, description="An intake key, for `navigator.sendBeacon`")


async def get_service(request: Request) -> LeadService:
    service: LeadService = request.app.state.service
    return service


async def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


ServiceDep = Annotated[LeadService, Depends(get_service)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]

UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="leadscore"'}


def _token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    if credentials is not None:
        return credentials.credentials
    return token_from_header(request.headers.get("authorization"))


def authenticate(request: Request, token: str | None) -> KeyInfo:
    """The caller behind `token` (cached: leadscore.api.auth.KeyCache), or 401."""
    if token is None:
        raise HTTPException(401, "an API key is required: Authorization: Bearer <key>", headers=UNAUTHORIZED)
    cache: KeyCache = request.app.state.key_cache
    found = cache.verify(request.app.state.service, token)
    if found is None:
        raise HTTPException(401, "the API key is unknown or revoked", headers=UNAUTHORIZED)
    request.state.caller = found
    return found


def authorize(request: Request, caller: KeyInfo, scope: str) -> KeyInfo:
    """403 unless the caller's key grants `scope` (and, for an intake key, the request comes from one of
    its origins); 429 past an intake key's rate limits."""
    if not caller.allows(scope):
        raise HTTPException(403, f"this key lacks the {scope!r} scope (it has: {', '.join(sorted(caller.scopes))})")
    check_origin(request, caller)
    if scope == "intake":
        limit_intake(request, caller)
    return caller


async def get_caller(
    request: Request,
    service: ServiceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> KeyInfo:
    return authenticate(request, _token(request, credentials))


Caller = Annotated[KeyInfo, Depends(get_caller)]


def check_origin(request: Request, caller: KeyInfo) -> None:
    """A key limited to origins is refused from any other origin, and without one."""
    if not caller.origins:
        return
    origin = (request.headers.get("origin") or "").rstrip("/").lower()
    if origin not in caller.origins:
        shown = origin or "no Origin header"
        raise HTTPException(403, f"this key may not send from {shown} (allowed: {', '.join(caller.origins)})")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit_intake(request: Request, caller: KeyInfo) -> None:
    """Rate limits on the public intake keys (the tracker's): per key and per client address."""
    if caller.allows("write"):
        return  # server-side keys are trusted callers
    limits: tuple[RateLimiter, RateLimiter] = request.app.state.intake_limits
    per_key, per_client = limits
    if not per_key.allow(caller.id) or not per_client.allow(f"{caller.id}|{_client(request)}"):
        raise HTTPException(429, "too many requests for this key or client; slow down", headers={"Retry-After": "1"})


def require(scope: str) -> object:
    """A dependency that admits callers whose key grants `scope`."""

    async def check(request: Request, caller: Caller) -> KeyInfo:
        return authorize(request, caller, scope)

    check.__name__ = f"require_{scope}"
    return Depends(check)


Reader = Annotated[KeyInfo, require("read")]
Writer = Annotated[KeyInfo, require("write")]
Admin = Annotated[KeyInfo, require("admin")]
Intake = Annotated[KeyInfo, require("intake")]


async def get_beacon_caller(
    request: Request,
    service: ServiceDep,
    key: Annotated[str | None, Security(query_key)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> KeyInfo:
    """The tracker's caller: `navigator.sendBeacon` cannot set headers, so its key comes in `?key=`."""
    token = key if key is not None else _token(request, credentials)  # an explicit ?key= is the one checked
    if token is None:
        raise HTTPException(401, "an intake key is required (?key= or Authorization: Bearer)", headers=UNAUTHORIZED)
    cache: KeyCache = request.app.state.key_cache
    found = cache.verify(service, token)
    if found is None:
        raise HTTPException(401, "the API key is unknown or revoked", headers=UNAUTHORIZED)
    if not found.allows("intake"):
        raise HTTPException(403, "this key lacks the 'intake' scope")
    check_origin(request, found)
    if request.method != "OPTIONS":  # a preflight stores nothing; only what follows it counts
        limit_intake(request, found)
    return found


BeaconCaller = Annotated[KeyInfo, Depends(get_beacon_caller)]


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _declared_query(route: object) -> frozenset[str]:
    key = id(route)
    if key not in _QUERY_NAMES:
        dependant = getattr(route, "dependant", None)
        names = _query_names(dependant) if dependant is not None else set()
        _QUERY_NAMES[key] = frozenset(names | {query_key.model.name})
    return _QUERY_NAMES[key]


async def strict_query(request: Request) -> None:
    """Refuse query parameters the operation does not declare (a misspelt filter would else be ignored),
    and NUL characters in the path or the query (no store can hold them)."""
    from leadscore.api.problems import Refused

    if "\x00" in request.scope.get("path", ""):
        raise Refused([{"loc": ["path"], "msg": "the path holds a NUL character"}])
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise Refused([{"loc": ["query", name.replace("\x00", "")], "msg": "holds a NUL character"}])
    route = request.scope.get("route")
    if route is None or not request.query_params:
        return
    unknown = sorted(set(request.query_params) - _declared_query(route))
    if unknown:
        raise Refused([{"loc": ["query", name], "msg": "unknown query parameter"} for name in unknown])
