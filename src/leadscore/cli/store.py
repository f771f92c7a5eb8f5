"""The store commands (init, db upgrade, ingest, refresh, queue, explain, accounts, model plan/apply,
erase, export, merge, stage set, outcome, webhooks), registered under one panel of `leadscore --help`
in this order. Each is a thin call into `LeadService`: the setup and data commands are in
`store_data`, the views in `store_views`, the model's in `store_model`, a lead's in `store_leads`,
the webhooks' in `store_webhooks`."""

from __future__ import annotations

from collections.abc import Callable

import typer

from leadscore.cli.store_data import db_upgrade, ingest_events, ingest_leads, init, refresh
from leadscore.cli.store_leads import erase, export, merge, outcome, stage_set
from leadscore.cli.store_model import model_apply, model_plan
from leadscore.cli.store_views import accounts, explain, queue
from leadscore.cli.store_webhooks import webhooks_deliver, webhooks_log, webhooks_redeliver


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    panel = "Store"
    app.command(rich_help_panel=panel)(init)
    for name, fn in (
        ("refresh", refresh),
        ("queue", queue),
        ("explain", explain),
        ("accounts", accounts),
        ("erase", erase),
        ("export", export),
        ("merge", merge),
        ("outcome", outcome),
    ):
        app.command(name, rich_help_panel=panel)(fn)
    groups: dict[str, list[tuple[str, Callable[..., None]]]] = {
        "db": [("upgrade", db_upgrade)],
        "ingest": [("events", ingest_events), ("leads", ingest_leads)],
        "model": [("plan", model_plan), ("apply", model_apply)],
        "stage": [("set", stage_set)],
        "webhooks": [("deliver", webhooks_deliver), ("redeliver", webhooks_redeliver), ("log", webhooks_log)],
    }
    for group, commands in groups.items():
        sub = typer.Typer(no_args_is_help=True, help=f"{group} commands")
        for name, fn in commands:
            sub.command(name)(fn)
        app.add_typer(sub, name=group, rich_help_panel=panel)
