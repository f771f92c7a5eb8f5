"""The workspace's `LeadService` as a command uses it: found from the project directory, at a fixed
time with `--at`, closed after the command, and every library error said in one line with exit code 2
(`user_errors`; a database's refusal too) instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from leadscore.cli.store_output import error

if TYPE_CHECKING:
    from leadscore.app.service import LeadService


def user_errors() -> tuple[type[BaseException], ...]:
    from leadscore._extras import MissingExtra, available
    from leadscore.app.service import ServiceError
    from leadscore.app.workspace import WorkspaceError
    from leadscore.engine.errors import ScoringDataError
    from leadscore.io.errors import DataFileError
    from leadscore.model.errors import ModelError
    from leadscore.store.base import StoreError
    from leadscore.webhooks.errors import WebhookError

    errors: list[type[BaseException]] = [
        ServiceError,
        StoreError,
        DataFileError,
        ModelError,
        ScoringDataError,
        WorkspaceError,
        WebhookError,
        MissingExtra,
    ]
    if available("predictive"):  # without it no predictive error can arise, and its package cannot load
        from leadscore.predictive.errors import PredictiveError

        errors.append(PredictiveError)
    return tuple(errors)


@contextmanager
def open_service(project: Path | None, at: str | None = None) -> Iterator[LeadService]:
    """The workspace's service; library errors become a red message and exit code 2."""
    try:
        from leadscore.app.service import LeadService
        from leadscore.app.workspace import Workspace
        from leadscore.domain.timeutil import parse_timestamp

        clock: Callable[[], datetime] | None = None
        if at is not None:
            try:
                fixed = parse_timestamp(at)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--at") from None
            clock = lambda: fixed  # noqa: E731
        ws = Workspace.find(project)
        service = LeadService.from_workspace(ws, clock=clock) if clock else LeadService.from_workspace(ws)
        try:
            yield service
        finally:
            service.close()
    except user_errors() as exc:
        error(str(exc))
        raise typer.Exit(2) from None
    except Exception as exc:
        # SQLAlchemy imported here, not with the module: every command (`leadscore batch` too) imports this
        # module to register its commands, and SQLAlchemy costs 0.2-0.3 CPU s to import
        from sqlalchemy.exc import DBAPIError

        if not isinstance(exc, DBAPIError):
            raise
        # a refusal the checks did not foresee: said plainly, nothing of it was kept
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        error(f"the database refused the change, which was rolled back: {reason}")
        raise typer.Exit(2) from None
