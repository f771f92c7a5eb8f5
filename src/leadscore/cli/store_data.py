"""The store commands that set a workspace up and bring data in: init, db upgrade, ingest events and
leads, refresh (the time-driven changes, once or with --watch)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from leadscore.cli.options import AtOpt, ProjectOpt
from leadscore.cli.output import err, out
from leadscore.cli.service import open_service, user_errors
from leadscore.cli.stopping import stop_requested
from leadscore.cli.store_output import error, say

SkipInvalidOpt = Annotated[bool, typer.Option("--skip-invalid", help="Keep good rows; bad ones to --rejects.")]
RejectsOpt = Annotated[
    Path | None,
    typer.Option(help="Rejects file (.csv or .jsonl); default <name>.rejects.jsonl (or .csv) beside the input."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing rejects file (never the input).")]


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the workspace.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing project file and model.")] = False,
) -> None:
    """Create a workspace: leadscore.yaml, an example model, and the store (SQLite by default)."""
    from importlib.resources import files

    from leadscore.app.workspace import init_workspace

    try:
        init_workspace(
            directory, files("leadscore.store").joinpath("example_model.yaml").read_text("utf-8"), force=force
        )
    except user_errors() as exc:
        error(str(exc))
        raise typer.Exit(2) from None
    with open_service(directory) as service:
        stored = service.upgrade()
    say(f"workspace ready in {directory.resolve()} (model {stored.name if stored else '?'})")


def db_upgrade(project: ProjectOpt = None) -> None:
    """Migrate the store to the latest schema."""
    with open_service(project) as service:
        stored = service.upgrade()
        say(f"store at the latest schema; active model {stored.name}@{stored.version}" if stored else "done")


def _ingest(kind: str, file: Path, skip_invalid: bool, rejects: Path | None, force: bool, project: Path | None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if rejects is not None and not skip_invalid:
        # without --skip-invalid a bad row stops the ingest and nothing goes to a rejects file: say so
        # rather than let the user believe bad rows were set aside
        raise typer.BadParameter("--rejects needs --skip-invalid", param_hint="--rejects")
    with (
        open_service(project) as service,
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
        ) as bar,
    ):
        task = bar.add_task("checking", total=None)

        def progress(phase: str, done: int, total: int | None) -> None:
            bar.update(task, description="checking" if phase == "check" else "writing", completed=done, total=total)

        run = service.ingest_events_file if kind == "events" else service.ingest_leads_file
        report = run(file, skip_invalid=skip_invalid, rejects=rejects, force=force, progress=progress)
    say(
        f"{report.rows} rows: {report.inserted} new {kind}, {report.rescored} leads rescored "
        f"({report.changed} changed), {report.triggers} triggers fired"
    )
    if report.rejected:
        err.print(Text(f"{report.rejected} bad rows written to {report.rejects_path}", style="yellow"))


def ingest_events(
    file: Path,
    skip_invalid: SkipInvalidOpt = False,
    rejects: RejectsOpt = None,
    force: ForceOpt = False,
    project: ProjectOpt = None,
) -> None:
    """Ingest events (CSV, JSON Lines, Parquet); each batch rescores its leads at once."""
    _ingest("events", file, skip_invalid, rejects, force, project)


def ingest_leads(
    file: Path,
    skip_invalid: SkipInvalidOpt = False,
    rejects: RejectsOpt = None,
    force: ForceOpt = False,
    project: ProjectOpt = None,
) -> None:
    """Upsert lead attributes (changes kept as history) and rescore the leads that changed."""
    _ingest("leads", file, skip_invalid, rejects, force, project)


def _report_failed(done: Any, shown: int = 20) -> None:
    """The leads a refresh left as they were because their stored data cannot be scored."""
    failed = getattr(done, "failed", [])
    if not failed:
        return
    err.print(f"{len(failed)} lead(s) could not be scored and kept their previous result:")
    for exc in failed[:shown]:
        err.print(f"  {exc}", markup=False)
    if len(failed) > shown:
        err.print(f"  ... and {len(failed) - shown} more")


def refresh(
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Keep refreshing every --interval seconds; Ctrl-C stops after the pass (twice: at once)."
        ),
    ] = False,
    interval: Annotated[float | None, typer.Option(help="Seconds between passes with --watch.")] = None,
    at: AtOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Apply time-driven changes to the leads whose result can have changed since it was computed."""
    with open_service(project, at) as service:
        if not watch:
            done = service.refresh()
            say(f"{done.leads} leads re-evaluated, {done.changed} changed, {len(done.firings)} triggers")
            _report_failed(done)
            return
        from leadscore.app.workspace import Workspace

        every = interval or Workspace.find(project).settings.refresh_interval_s

        def report(done: Any) -> None:
            say(f"{datetime.now().isoformat(timespec='seconds')}: {done.leads} re-evaluated, {done.changed} changed")
            _report_failed(done)

        try:
            with stop_requested() as stop:
                service.watch(every, report, stop)
        except KeyboardInterrupt:  # a second Ctrl-C: stop inside the pass, as Python would
            pass
        out.print("stopped")
