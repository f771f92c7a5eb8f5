"""The store commands that show results: the sales queue, why a lead has its score, the accounts."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from leadscore.cli.options import Format, FormatOpt, ProjectOpt
from leadscore.cli.output import out
from leadscore.cli.service import open_service
from leadscore.cli.store_output import print_json, print_rows


def queue(
    limit: Annotated[int, typer.Option(help="How many leads.")] = 20,
    format: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """The sales queue: playbook priority, then score, with the next best action."""
    with open_service(project) as service:
        results = service.queue(limit)
    if format == "json":
        print_json([r.model_dump(mode="json") for r in results])
        return
    table = Table("#", "lead", "score", "stage", "labels", "priority", "next best action")
    for i, r in enumerate(results, 1):
        pb = r.playbook
        labels = ", ".join(f"{k}={v}" for k, v in r.labels.items())
        cells = (
            str(i),
            r.lead_id,
            f"{r.score:.1f}",
            r.stage or "",
            labels,
            str(pb.priority) if pb and pb.priority else "",
            pb.action or "" if pb else "",
        )
        table.add_row(*map(Text, cells))  # as written: an id is never read as markup
    out.print(table)


def explain(
    lead: str,
    events: Annotated[int, typer.Option(help="How many recent events.")] = 10,
    format: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """Why a lead has its score: breakdown, last events, score and stage history."""
    with open_service(project) as service:
        found = service.explain(lead, events)
    if format == "json":
        print_json(found.model_dump(mode="json"))
        return
    out.print(
        Text.assemble(
            (lead, "bold"),
            f"  score {found.score or 0:.2f}  stage {found.stage}  labels {found.labels or None}",
        )
    )
    table = Table("rule", "dimension", "points", "events", title="breakdown")
    for b in found.breakdown:
        cells = (b.rule, str(b.dimension), f"{b.points:.2f}", "" if b.events is None else str(b.events))
        table.add_row(*map(Text, cells))
    out.print(table)
    dumped = found.model_dump(mode="json")
    print_rows("last events", ["timestamp", "type", "id"], dumped["events"])
    print_rows("score history", ["at", "score", "delta", "cause"], dumped["score_history"])
    print_rows("stage history", ["at", "from", "to", "cause"], dumped["stage_history"])


def accounts(format: FormatOpt = Format.table, project: ProjectOpt = None) -> None:
    """Accounts (B2B) with scores and labels rolled up from their leads."""
    with open_service(project) as service:
        found = service.accounts()
    if format == "json":
        print_json([a.model_dump(mode="json") for a in found])
        return
    table = Table("account", "leads", "score", "dimensions", "labels")
    for a in found:
        dims = ", ".join(f"{k}={v:.1f}" for k, v in a.dimensions.items())
        table.add_row(*map(Text, (a.account, str(a.leads), f"{a.score:.1f}", dims, str(a.labels))))
    out.print(table)
