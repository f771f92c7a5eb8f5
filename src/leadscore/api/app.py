"""The application factory: routes, problem details, limits, metrics, docs and static files.

    app = create_app(service)                       # an open LeadService (tests, embedding)
    app = create_app(workspace=Workspace.find())    # the service is opened at startup, closed at shutdown
    app = create_app(service, routers=[pages])      # more routers (the dashboard) on the same app

Other edges mount their routers through `routers`; they authenticate with `leadscore.api.deps`
(`Reader`, `Admin`, ...) or `leadscore.api.auth.verify_key`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from leadscore.api import docs, heap, metrics, openapi, paths, problems
from leadscore.api.auth import KeyCache
from leadscore.api.deps import strict_query
from leadscore.api.lean import Shortcut
from leadscore.api.limits import BodyLimit, RateLimiter
from leadscore.api.rescore_process import RescoreProcess
from leadscore.api.routes import ROUTERS
from leadscore.api.routes.events import send_event_fast
from leadscore.api.settings import ApiSettings
from leadscore.app.committer import GroupCommitter
from leadscore.app.lead_waits import LeadWaits
from leadscore.app.rescorer import RescoreWorker
from leadscore.app.score_lag import ScoreLag
from leadscore.app.service import LeadService
from leadscore.app.workspace import Workspace

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
API_VERSION = "1"


def create_app(
    service: LeadService | None = None,
    *,
    workspace: Workspace | None = None,
    settings: ApiSettings | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The API over `service`, or over the workspace's store and model (opened at startup)."""
    settings = settings or ApiSettings()
    owned = service is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        root = None
        if app.state.service is None:
            ws = workspace or Workspace.find()
            app.state.service = LeadService.from_workspace(ws)
            root = ws.root
            log.info("serving the store %s", ws.database_url.split("@")[-1])
        start_intake(app, app.state.service, settings, root)
        if owned:  # a server process (not an app embedded in a caller's process): see leadscore.api.heap
            with contextlib.suppress(Exception):  # no model yet: the requests that need one say so
                app.state.service.current_evaluator()  # loaded before the heap is frozen
            heap.settle()
        try:
            yield
        finally:
            app.state.committer.close()
            if app.state.rescorer is not None:
                app.state.rescorer.close()
            if owned and app.state.service is not None:
                app.state.service.close()
                app.state.service = None

    app = FastAPI(
        title="leadscore",
        version=API_VERSION,
        summary="Explainable lead scoring: leads, events, the sales queue, models and triggers.",
        description="Every route but /health and /ready needs an API key: `Authorization: Bearer lsk_...` "
        "(create one with `leadscore keys create NAME --scope read`). Errors are RFC 9457 problem details.",
        lifespan=lifespan,
        dependencies=[Depends(strict_query)],
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = service
    app.state.committer = app.state.rescorer = None
    # no rescoring worker signals these waits (until the lifespan starts one): they check periodically
    app.state.waits = waits_for(service, settings) if service is not None else None
    if service is not None:
        # until the lifespan starts the intake (a caller may never run it: a TestClient outside `with`),
        # events are rescored before their acknowledgement: no rescoring worker runs that nothing would
        # stop, polling a store its caller closes, or drops (the committer's thread only waits)
        app.state.committer = GroupCommitter(service)
    app.state.settings = settings
    app.state.key_cache = KeyCache(settings.key_cache_s)
    app.state.intake_limits = (
        RateLimiter(settings.intake_rate_per_key, settings.intake_burst_per_key),
        RateLimiter(settings.intake_rate_per_client, settings.intake_burst_per_client),
    )
    problems.install(app)
    metrics.install(app)
    for router in [*ROUTERS, *routers]:
        document_scopes(router)
        app.include_router(router)
    openapi.install(app)
    docs.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    paths.install(app)  # routing must see `%2F` in a lead id still encoded
    # outermost: the common single-event request skips the stack above (leadscore.api.lean)
    app.add_middleware(
        Shortcut,
        routes={("POST", "/v1/events"): send_event_fast},
        max_bytes=settings.max_body_bytes,
        metrics=app.state.metrics,
    )
    return app


def start_intake(app: FastAPI, service: LeadService, settings: ApiSettings, root: Path | None = None) -> None:
    """The group committer and, when rescoring follows the acknowledgement, the worker that does it
    (started at once: it first drains what an earlier process left queued); in a process of its own
    when the app opened the workspace at `root` itself. The worker signals each drain it commits to
    the waits for current results (leadscore.app.lead_waits). Called in the running event loop."""
    if app.state.rescorer is not None:
        app.state.rescorer.close()
    if app.state.committer is not None:
        app.state.committer.close()
    waits = app.state.waits = waits_for(service, settings)
    rescorer: RescoreWorker | RescoreProcess | None = None
    lag = app.state.score_lag = ScoreLag(settings.intake_yield_after_s, settings.intake_yield_max_s)
    if settings.defer_rescoring:
        use_process = root is not None and settings.rescore_process
        gather = settings.rescore_gather_s
        if use_process and root:
            rescorer = RescoreProcess(root, gather_s=gather).start()
            rescorer.on_scored(waits.scored, lag.caught_up)
        else:
            gather = service.store.drain_gather_s if gather is None else gather
            rescorer = RescoreWorker(
                service, gather_s=gather, on_drained=waits.scored, on_caught_up=lag.caught_up
            ).start()
    app.state.rescorer = rescorer
    on_commit: Callable[[], None] | None = None
    pace: Callable[[], float] | None = None
    if rescorer is not None:
        on_commit, pace = _noting(lag, rescorer.notify), lag.pause
    app.state.committer = GroupCommitter(service, defer=settings.defer_rescoring, on_commit=on_commit, pace=pace)


def _noting(lag: ScoreLag, notify: Callable[[], None]) -> Callable[[], None]:
    """After a deferred commit: its time noted for the back-pressure by age, then the rescoring woken."""

    def on_commit() -> None:
        lag.committed()
        notify()

    return on_commit


def waits_for(service: LeadService, settings: ApiSettings) -> LeadWaits:
    return LeadWaits(service, limit=settings.max_lead_waits, check_s=settings.lead_wait_check_s)


def _scope_of(dependant: Any) -> str | None:
    for sub in dependant.dependencies:
        name = getattr(sub.call, "__name__", "")
        if name.startswith("require_"):
            return name.removeprefix("require_")
        if name == "get_beacon_caller":
            return "intake"
        found = _scope_of(sub)
        if found is not None:
            return found
    return None


def document_scopes(router: APIRouter) -> None:
    """Each operation says in the OpenAPI document which key scope it needs (`x-scope`)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            scope = _scope_of(route.dependant)
            if scope is not None:
                route.openapi_extra = {**(route.openapi_extra or {}), "x-scope": scope}
                if route.description and "scope" not in route.description:
                    route.description += f"\n\nNeeds a key with the `{scope}` scope."


def app_from_environment() -> FastAPI:
    """For `uvicorn --factory leadscore.api.app:app_from_environment` (each worker opens its service)."""
    return create_app()
