"""The store commands of the trigger messages' delivery: deliver, redeliver, the delivery log."""

from __future__ import annotations

from typing import Annotated

import typer

from leadscore.cli.options import Format, FormatOpt, ProjectOpt
from leadscore.cli.service import open_service
from leadscore.cli.store_output import print_json, print_rows, say


def webhooks_deliver(
    limit: int = 100,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Requests in flight at once (runs that overlap never share a message).")
    ] = 8,
    project: ProjectOpt = None,
) -> None:
    """One delivery attempt for every due trigger message."""
    with open_service(project) as service:
        report = service.deliver_webhooks(limit, concurrency=concurrency)
    say(f"{report.delivered} delivered, {report.retried} to retry, {report.dead_lettered} dead-lettered")


def webhooks_redeliver(
    ids: Annotated[list[str] | None, typer.Argument(help="Message ids (default: every dead letter).")] = None,
    destination: Annotated[str | None, typer.Option(help="Only this destination.")] = None,
    project: ProjectOpt = None,
) -> None:
    """Queue dead-lettered messages again."""
    with open_service(project) as service:
        n = service.redeliver(ids or None, destination)
    say(f"{n} messages queued again")


def webhooks_log(limit: int = 50, format: FormatOpt = Format.table, project: ProjectOpt = None) -> None:
    """The delivery log, newest first."""
    with open_service(project) as service:
        rows = service.outbox().log(limit)
    if format == "json":
        print_json(rows)
        return
    print_rows(
        "deliveries",
        ["at", "idempotency_key", "trigger_id", "lead_id", "destination", "attempt", "ok", "status_code", "error"],
        rows,
    )
