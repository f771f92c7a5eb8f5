"""`leadscore report NAME`: the analytics of the store as a terminal table, JSON, CSV or an HTML file.

NAME is funnel, channels, quality, feedback or triggers (see docs/reports.md). The numbers come from
leadscore.analytics, the same functions the API and the dashboard call.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.options import ProjectOpt
from leadscore.cli.service import open_service

ReportName = Annotated[str, typer.Argument(help="funnel, channels, quality, feedback or triggers.", show_default=False)]


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint=option)
        out[key.strip()] = value.strip()
    return out


def _bands(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        msg = f"{text!r}: expected numbers separated by commas, e.g. 0,50,100"
        raise typer.BadParameter(msg, param_hint="--bands") from None


def report(
    name: ReportName,
    start: Annotated[
        str | None, typer.Option("--from", help="Start of the period, ISO 8601 (default: 365 days before --to).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="End of the period, exclusive, ISO 8601 (default: now).")
    ] = None,
    label: Annotated[
        list[str] | None, typer.Option("--label", help="Only leads with this label: SET=LABEL (repeatable).")
    ] = None,
    attribute: Annotated[
        list[str] | None,
        typer.Option("--attribute", "-a", help="Only leads with this attribute: NAME=VALUE (repeatable)."),
    ] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="Only leads now in this stage.")] = None,
    playbook: Annotated[str | None, typer.Option("--playbook", help="Only leads whose playbook has this name.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Only leads of this account.")] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by", help="channels: source, medium, campaign, landing_page, first_touch, last_touch or any attribute."
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="quality: the stage that counts as converted (default: the won stage)."),
    ] = None,
    bands: Annotated[str | None, typer.Option("--bands", help="quality: score band edges, e.g. 0,50,100,200.")] = None,
    channel: Annotated[
        str | None, typer.Option("--channel", help="feedback: the attribute that names the channel (default: source).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the report as one HTML file (refuses to overwrite a file)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the --html file if it exists.")] = False,
    project: ProjectOpt = None,
) -> None:
    """Analytics: funnel, channels and campaigns, score quality, sales feedback, triggers and webhooks."""
    from pydantic import ValidationError
    from rich.table import Table as RichTable

    from leadscore.analytics import AnalyticsError, ReportFilter, run_report
    from leadscore.analytics.tables import fmt as cell
    from leadscore.cli.output import err, fail, out
    from leadscore.domain.timeutil import parse_timestamp

    if fmt not in ("table", "json", "csv"):
        raise typer.BadParameter(f"{fmt!r}: expected table, json or csv", param_hint="--format")
    if html is not None and html.exists() and not force:
        fail(f"--html {html}: the file exists (use --force to overwrite it)")
    labels, attributes, edges = _pairs(label, "--label"), _pairs(attribute, "--attribute"), _bands(bands)
    with open_service(project) as service:
        try:
            to = parse_timestamp(end) if end else service.clock()
            since = parse_timestamp(start) if start else None
        except ValueError as exc:
            fail(f"--from/--to: {exc} (expected ISO 8601, e.g. 2026-01-01)")
        try:
            from datetime import timedelta

            f = ReportFilter(
                start=since or to - timedelta(days=365),
                end=to,
                labels=labels,
                attributes=attributes,
                stage=stage,
                playbook=playbook,
                account=account,
            )
            result = run_report(service, name, f, by=by, target=target, bands=edges, channel=channel)
        except ValidationError as exc:
            fail("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors()))
        except AnalyticsError as exc:
            fail(str(exc))
    if html is not None:
        from leadscore.analytics.html import report_html

        html.write_text(report_html(result), encoding="utf-8")
        err.print(f"wrote {html}")
    if fmt == "json":
        out.print_json(json.dumps(result.model_dump(mode="json")))
        return
    tables = result.tables()
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for t in tables:
            writer.writerow(["table", *[c.key for c in t.columns]])
            for row in t.rows:
                writer.writerow([t.name, *["" if row[c.key] is None else row[c.key] for c in t.columns]])
        out.file.write(buf.getvalue())
        return
    out.print(f"[bold]{result.meta.title}[/bold]  {result.meta.period}")
    for note in result.meta.notes:
        out.print(f"[yellow]{note}[/yellow]")
    for t in tables:
        table = RichTable(title=t.title, title_justify="left")
        for c in t.columns:
            table.add_column(c.title, justify="left" if c.kind == "text" else "right")
        for row in t.rows:
            table.add_row(*[cell(row[c.key], c.kind) for c in t.columns])
        if not t.rows:
            out.print(f"[bold]{t.title}[/bold]: {t.empty}")
        else:
            out.print(table)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Store")(report)
