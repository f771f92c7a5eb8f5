"""The API reference page, served from local files (swagger-ui-dist, vendored with its licence)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse


def install(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    def reference() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="leadscore API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui/favicon-32x32.png",
            # no call to the public validator service: the page must work offline
            swagger_ui_parameters={"validatorUrl": None},
        )
