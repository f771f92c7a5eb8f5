"""Templates and the response headers every page carries (a strict Content-Security-Policy: the pages
load nothing but their own stylesheet and script, and cannot be framed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi.responses import HTMLResponse
from starlette.requests import Request

from leadscore.analytics.html import environment
from leadscore.domain.timeutil import from_micros, to_iso

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Pages:
    def __init__(self, folder: Path) -> None:
        self.env = environment(folder)
        self.env.globals["signed"] = lambda v: f"{v:+.1f}"
        # a lead id as one path segment: ids may hold `/`, `?`, `#`, `%` (see leadscore.api.paths)
        self.env.filters["segment"] = lambda v: quote(str(v), safe="")
        self.env.filters["us_date"] = lambda us: to_iso(from_micros(us))[:16].replace("T", " ") if us else "–"

    def render(self, request: Request, template: str, *, user: Any, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(request=request, user=user, path=request.url.path, **ctx)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
