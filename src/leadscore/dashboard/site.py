"""The API with the dashboard mounted on it: what `leadscore serve` runs.

app = create_site(service)                    # tests: an open LeadService
uvicorn --factory leadscore.dashboard.site:app_from_environment
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from leadscore.api.app import create_app
from leadscore.dashboard.routes import dashboard_router
from leadscore.dashboard.session import Sessions

STATIC = Path(__file__).parent / "static"


def create_site(service: Any = None, *, sessions: Sessions | None = None, **options: Any) -> FastAPI:
    from leadscore.api.routes.reports import router as reports

    app = create_app(service, routers=[reports, dashboard_router(sessions)], **options)
    app.mount("/app/static", StaticFiles(directory=STATIC), name="dashboard-static")
    if not any(getattr(r, "path", None) == "/" for r in app.routes):
        app.add_api_route("/", lambda: RedirectResponse("/app/queue", status_code=303), include_in_schema=False)
    return app


def app_from_environment() -> FastAPI:
    return create_site()
