"""Store commands: init, db upgrade, ingest, refresh, queue, explain, accounts, model plan/apply,
erase, export, merge, stage set, outcome, webhooks. Each is a thin call into `LeadService`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from leadscore.cli.output import err, out
from leadscore.cli.stopping import stop_requested

if TYPE_CHECKING:
    from leadscore.app.service import LeadService


ProjectOpt = Annotated[
    Path | None, typer.Option("--project", help="Workspace directory (default: found from the current directory).")
]
AtOpt = Annotated[str | None, typer.Option("--at", help="Evaluation time, ISO 8601 (default: now, UTC).")]
SkipInvalidOpt = Annotated[bool, typer.Option("--skip-invalid", help="Keep good rows; bad ones to --rejects.")]
RejectsOpt = Annotated[
    Path | None,
    typer.Option(help="Rejects file (.csv or .jsonl); default <name>.rejects.jsonl (or .csv) beside the input."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing rejects file (never the input).")]


class Format(StrEnum):
    table = "table"
    json = "json"


# an enum, so that `--format xml` is a usage error (exit code 2) instead of a table
FormatOpt = Annotated[Format, typer.Option("--format", help="table or json.")]


def _user_errors() -> tuple[type[BaseException], ...]:
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
def _service(project: Path | None, at: str | None = None) -> Iterator[LeadService]:
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
    except _user_errors() as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    except Exception as exc:
        # SQLAlchemy imported here, not with the module: every command (`leadscore batch` too) imports this
        # module to register its commands, and SQLAlchemy costs 0.2-0.3 CPU s to import
        from sqlalchemy.exc import DBAPIError

        if not isinstance(exc, DBAPIError):
            raise
        # a refusal the checks did not foresee: said plainly, nothing of it was kept
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _error(f"the database refused the change, which was rolled back: {reason}")
        raise typer.Exit(2) from None


def _error(message: str) -> None:
    """A user error on stderr, as plain text: file names, ids and fields are never read as markup or
    emoji codes (`file:row 5:id:` stays as written)."""
    err.print(Text.assemble(("error:", "red"), " ", message))


def _say(message: str) -> None:
    out.print(Text(message))


def _json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


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
    except _user_errors() as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    with _service(directory) as service:
        stored = service.upgrade()
    _say(f"workspace ready in {directory.resolve()} (model {stored.name if stored else '?'})")


def db_upgrade(project: ProjectOpt = None) -> None:
    """Migrate the store to the latest schema."""
    with _service(project) as service:
        stored = service.upgrade()
        _say(f"store at the latest schema; active model {stored.name}@{stored.version}" if stored else "done")


def _ingest(kind: str, file: Path, skip_invalid: bool, rejects: Path | None, force: bool, project: Path | None) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if rejects is not None and not skip_invalid:
        # without --skip-invalid a bad row stops the ingest and nothing goes to a rejects file: say so
        # rather than let the user believe bad rows were set aside
        raise typer.BadParameter("--rejects needs --skip-invalid", param_hint="--rejects")
    with (
        _service(project) as service,
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
        ) as bar,
    ):
        task = bar.add_task("checking", total=None)

        def progress(phase: str, done: int, total: int | None) -> None:
            bar.update(task, description="checking" if phase == "check" else "writing", completed=done, total=total)

        run = service.ingest_events_file if kind == "events" else service.ingest_leads_file
        report = run(file, skip_invalid=skip_invalid, rejects=rejects, force=force, progress=progress)
    _say(
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
    with _service(project, at) as service:
        if not watch:
            done = service.refresh()
            _say(f"{done.leads} leads re-evaluated, {done.changed} changed, {len(done.firings)} triggers")
            _report_failed(done)
            return
        from leadscore.app.workspace import Workspace

        every = interval or Workspace.find(project).settings.refresh_interval_s

        def report(done: Any) -> None:
            _say(f"{datetime.now().isoformat(timespec='seconds')}: {done.leads} re-evaluated, {done.changed} changed")
            _report_failed(done)

        try:
            with stop_requested() as stop:
                service.watch(every, report, stop)
        except KeyboardInterrupt:  # a second Ctrl-C: stop inside the pass, as Python would
            pass
        out.print("stopped")


def queue(
    limit: Annotated[int, typer.Option(help="How many leads.")] = 20,
    format: FormatOpt = Format.table,
    project: ProjectOpt = None,
) -> None:
    """The sales queue: playbook priority, then score, with the next best action."""
    with _service(project) as service:
        results = service.queue(limit)
    if format == "json":
        _json([r.model_dump(mode="json") for r in results])
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
    with _service(project) as service:
        found = service.explain(lead, events)
    if format == "json":
        _json(found.model_dump(mode="json"))
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
    _rows("last events", ["timestamp", "type", "id"], dumped["events"])
    _rows("score history", ["at", "score", "delta", "cause"], dumped["score_history"])
    _rows("stage history", ["at", "from", "to", "cause"], dumped["stage_history"])


def _rows(title: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(
            *(Text(f"{row.get(c):.2f}" if isinstance(row.get(c), float) else str(row.get(c, ""))) for c in columns)
        )
    out.print(table)


def accounts(format: FormatOpt = Format.table, project: ProjectOpt = None) -> None:
    """Accounts (B2B) with scores and labels rolled up from their leads."""
    with _service(project) as service:
        found = service.accounts()
    if format == "json":
        _json([a.model_dump(mode="json") for a in found])
        return
    table = Table("account", "leads", "score", "dimensions", "labels")
    for a in found:
        dims = ", ".join(f"{k}={v:.1f}" for k, v in a.dimensions.items())
        table.add_row(*map(Text, (a.account, str(a.leads), f"{a.score:.1f}", dims, str(a.labels))))
    out.print(table)


def model_plan(file: Path, format: FormatOpt = Format.table, at: AtOpt = None, project: ProjectOpt = None) -> None:
    """What a new model would change on today's data. Writes nothing."""
    with _service(project, at) as service:
        plan = service.plan_model(file)
    if format == "json":
        _json(plan.to_dict())
        return
    _say(
        f"model {plan.version}: {plan.leads} leads, {plan.score_changed} change score, "
        f"{plan.stage_changed} change stage, {plan.playbook_changed} change playbook"
    )
    for name, n in plan.labels_changed.items():
        _say(f"  label {name}: {n} leads change")
    for trigger, n in plan.triggers.items():
        _say(f"  trigger {trigger} would fire {n} times")
    _rows("biggest movers", ["lead_id", "before", "after", "delta"], plan.movers)


def model_apply(
    file: Path,
    quiet: Annotated[bool, typer.Option("--quiet", help="Fire no triggers.")] = False,
    project: ProjectOpt = None,
) -> None:
    """Make a new model active and rescore every lead under it (the old version stays in history)."""
    with _service(project) as service, err.status("rescoring every lead under the new model..."):
        applied = service.apply_model(file, quiet=quiet)
    engine = getattr(applied.rescored, "engine", "pure scorer")
    _say(
        f"model {applied.version} active (was {applied.previous}); {applied.rescored.leads} leads rescored "
        f"({engine}), {applied.rescored.changed} changed, {len(applied.rescored.firings)} triggers"
    )


def erase(
    lead: str, yes: Annotated[bool, typer.Option("--yes", help="Confirm.")] = False, project: ProjectOpt = None
) -> None:
    """Remove a lead, its events and its history (right to be forgotten)."""
    if not yes:
        _error("erasing cannot be undone: add --yes")
        raise typer.Exit(2)
    with _service(project) as service:
        person = service.person(lead)
        counts = service.erase(lead)
    held = "" if person == lead else f" (which {lead} was merged into)"
    _say(f"erased {person}{held}: " + ", ".join(f"{n} {t}" for t, n in counts.items() if n))


def export(
    lead: str,
    out_file: Annotated[Path | None, typer.Option("--out", help="JSON file (default: print).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
    project: ProjectOpt = None,
) -> None:
    """Write everything held about a lead (or the lead a merged id belongs to), as JSON."""
    from leadscore.io.safe_write import write_text_file

    with _service(project) as service:
        data = service.export(lead).model_dump(mode="json")
        text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
        if out_file is not None:
            write_text_file(out_file, text + "\n", force=force)  # a refusal exits 2 like any user error
    if out_file is None:
        out.print(text, markup=False, highlight=False)
    else:
        _say(f"wrote {out_file}")


def merge(keep: str, other: str, project: ProjectOpt = None) -> None:
    """Merge lead OTHER into KEEP (the same person); both histories are kept."""
    with _service(project) as service:
        result = service.merge(keep, other)
    _say(f"merged {other} into {keep}: score {result.score:.2f}, stage {result.stage}")


def stage_set(lead: str, stage: str, at: AtOpt = None, project: ProjectOpt = None) -> None:
    """Move a lead to a stage by hand (recorded as a stage_set event)."""
    with _service(project, at) as service:
        result = service.set_stage(lead, stage)
    _say(f"{lead}: stage {result.stage}, score {result.score:.2f}")


def outcome(lead: str, outcome: str, at: AtOpt = None, project: ProjectOpt = None) -> None:
    """Record a sales outcome: accepted, rejected, opportunity, won or lost."""
    with _service(project, at) as service:
        result = service.record_outcome(lead, outcome)
    _say(f"{lead}: stage {result.stage}, score {result.score:.2f}")


def webhooks_deliver(
    limit: int = 100,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Requests in flight at once (runs that overlap never share a message).")
    ] = 8,
    project: ProjectOpt = None,
) -> None:
    """One delivery attempt for every due trigger message."""
    with _service(project) as service:
        report = service.deliver_webhooks(limit, concurrency=concurrency)
    _say(f"{report.delivered} delivered, {report.retried} to retry, {report.dead_lettered} dead-lettered")


def webhooks_redeliver(
    ids: Annotated[list[str] | None, typer.Argument(help="Message ids (default: every dead letter).")] = None,
    destination: Annotated[str | None, typer.Option(help="Only this destination.")] = None,
    project: ProjectOpt = None,
) -> None:
    """Queue dead-lettered messages again."""
    with _service(project) as service:
        n = service.redeliver(ids or None, destination)
    _say(f"{n} messages queued again")


def webhooks_log(limit: int = 50, format: FormatOpt = Format.table, project: ProjectOpt = None) -> None:
    """The delivery log, newest first."""
    with _service(project) as service:
        rows = service.outbox().log(limit)
    if format == "json":
        _json(rows)
        return
    _rows(
        "deliveries",
        ["at", "idempotency_key", "trigger_id", "lead_id", "destination", "attempt", "ok", "status_code", "error"],
        rows,
    )


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
