"""`leadscore serve`: the HTTP API (and the pages mounted on it) under uvicorn.

Listens on 127.0.0.1 unless told otherwise: exposing the API is a deliberate choice. Every worker
process opens the workspace's store and active model itself.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from leadscore.cli.options import ProjectOpt
from leadscore.cli.output import fail


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    log_level: Annotated[str, typer.Option(help="critical, error, warning, info or debug.")] = "info",
    project: ProjectOpt = None,
) -> None:
    """Serve the HTTP API (docs at /docs, OpenAPI at /openapi.json) over the workspace's store."""
    import logging

    from leadscore._extras import require

    require("server", "`leadscore serve`")  # named, not a traceback, when the extra is missing
    import uvicorn

    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace, WorkspaceError

    try:
        ws = Workspace.find(project)
    except WorkspaceError as exc:
        fail(str(exc))
    # The workers find the workspace through the environment; check it can be served before forking.
    os.environ["LEADSCORE_PROJECT"] = str(ws.root)
    probe = LeadService.from_workspace(ws)
    try:
        probe.check_schema()
    except Exception as exc:
        fail(str(exc))
    finally:
        probe.close()
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        "leadscore.dashboard.site:app_from_environment",  # the API with the dashboard at /app
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        server_header=False,
    )


def register(app: typer.Typer) -> None:
    app.command("serve", rich_help_panel="API")(serve)
