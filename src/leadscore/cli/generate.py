"""`leadscore generate`: write realistic synthetic leads and events (thin layer over leadscore.generate)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def generate_command(
    leads: int = typer.Option(..., "--leads", "-n", help="Number of leads to generate."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (created if missing)."),
    kind: str = typer.Option("b2b", "--kind", help="b2b (companies, sales funnel) or b2c (a shoe shop)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed and arguments, same data."),
    events_per_lead: float | None = typer.Option(
        None, "--events-per-lead", help="Average events per lead (default 50 for b2b, 30 for b2c)."
    ),
    start: str | None = typer.Option(None, "--start", help="Window start, ISO 8601 (default: 18 months before end)."),
    end: str | None = typer.Option(None, "--end", help="Window end, ISO 8601 (default 2026-06-01T00:00:00Z)."),
    fmt: str = typer.Option(
        "auto", "--format", help="auto (Parquet, plus CSV up to 10,000 leads), parquet, or csv (Parquet and CSV)."
    ),
) -> None:
    """Generate leads and their events (Parquet, and CSV for small runs) with a manifest."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from leadscore._extras import require

    require("batch", "`leadscore generate`")
    from leadscore.generate import GenerateError, generate

    try:
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("generating leads", total=max(leads, 0))

            def report(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary = generate(
                kind,
                leads,
                out,
                seed,
                events_per_lead=events_per_lead,
                start=start,
                end=end,
                format=fmt,
                progress=report,
            )
    except GenerateError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None

    table = Table(title=f"{summary.kind} data in {summary.out_dir}", show_header=True)
    table.add_column("event type")
    table.add_column("events", justify="right")
    for name, count in sorted(summary.events_by_type.items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(
        f"{summary.leads:,} leads, {summary.events:,} events, seed {summary.seed}, "
        f"{summary.start:%Y-%m-%d} to {summary.end:%Y-%m-%d}; files: {', '.join(summary.files)}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("generate")(generate_command)
