"""The scoring core on the command line: validate, schema, score, test, demo.

Each command reads its inputs through the library, catches the library's error types (bad model,
bad data file, bad cases file) and shows them located, in red, with exit code 2. Library imports
happen inside the commands so that `leadscore --help` stays fast.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from leadscore.domain import Event, Lead, Result
    from leadscore.engine import Scorer
    from leadscore.model import ScoringModel

DEMO_AT = "2026-06-01T00:00:00Z"
DEMO_EXAMPLE = "b2b-saas"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


ModelArg = Annotated[Path, typer.Argument(help="The scoring-model YAML file.", show_default=False)]


def _load(path: Path) -> ScoringModel:
    from leadscore.cli.output import fail
    from leadscore.model import ModelError, load_model

    try:
        return load_model(path)
    except ModelError as exc:
        fail(exc.render())


def _at(text: str | None) -> datetime:
    from leadscore.cli.output import fail
    from leadscore.domain import parse_timestamp, utc_now

    if text is None:
        return utc_now()
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        fail(f"--at: {exc} (expected ISO 8601, e.g. 2026-06-01 or 2026-06-01T09:30:00Z)")


def validate(models: Annotated[list[Path], typer.Argument(help="One or more model files.")]) -> None:
    """Check model files: every problem with its file, line, field and what was expected."""
    from rich.text import Text

    from leadscore.cli.output import err, out
    from leadscore.model import ModelError, load_model, model_version

    bad = 0
    for path in models:
        try:
            m = load_model(path)
        except ModelError as exc:
            bad += 1
            err.print(Text(exc.render(), style="red"))
            continue
        counts = {
            "rules": len(m.rules),
            "dimensions": len(m.dimension_names()),
            "label sets": len(m.labels),
            "stages": len(m.lifecycle.all_stages()) if m.lifecycle else 0,
            "playbooks": len(m.playbooks),
            "triggers": len(m.triggers),
        }
        summary = ", ".join(f"{n} {what}" for what, n in counts.items())
        out.print(
            Text(f"OK {path}: model {m.name!r} version {model_version(m)}: {summary}", style="green"), soft_wrap=True
        )
    if bad:
        raise typer.Exit(2)


def schema(
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the schema to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of model files (for editor completion and checks)."""
    from leadscore.cli.output import emit, err, fail
    from leadscore.model.schema import model_schema_json

    text = model_schema_json()
    if out_file is None:
        emit(text)
        return
    try:
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{out_file}: cannot write: {exc}")
    err.print(f"wrote {out_file}")


def _read_inputs(leads_path: Path | None, events_path: Path | None) -> tuple[list[Lead], list[Event], int]:
    """Leads (plus a bare lead for each event lead id the leads file lacks) and events.

    Returns the number of bare leads added, so the caller can say so.
    """
    from leadscore.cli.output import fail
    from leadscore.domain import Lead
    from leadscore.io import DataFileError, read_events, read_leads

    if leads_path is None and events_path is None:
        fail("give --leads FILE, --events FILE or both")
    try:
        leads = read_leads(leads_path) if leads_path is not None else []
        events = read_events(events_path) if events_path is not None else []
    except DataFileError as exc:
        fail(str(exc))
    known = {lead.id for lead in leads}
    extra = sorted({e.lead_id for e in events} - known)
    return [*leads, *(Lead(lead_id) for lead_id in extra)], events, len(extra)


def _scorer(model: ScoringModel, base: Path) -> Scorer:
    """The model compiled once; predictive dimensions load their trained artifacts from `base` (the
    model file's folder)."""
    from leadscore.cli.output import fail
    from leadscore.engine import Scorer

    if not model.predictive_dimensions():
        return Scorer(model)
    from leadscore._extras import require

    require("predictive", "a model with predictive dimensions")
    from leadscore.predictive import PredictiveError
    from leadscore.predictive.runtime import load_predictors

    try:
        return Scorer(model, load_predictors(model, base))
    except PredictiveError as exc:
        fail(str(exc))


def _score(model: ScoringModel, leads: list[Lead], events: list[Event], at: datetime, base: Path) -> list[Result]:
    from leadscore.cli.output import fail
    from leadscore.engine import ScoringDataError

    scorer = _scorer(model, base)
    try:
        return scorer.score_many(leads, events, at)
    except ScoringDataError as exc:
        fail(f"bad data for lead {exc.lead_id!r}: {exc.detail}")


def score(
    model: ModelArg,
    leads: Annotated[
        Path | None, typer.Option("--leads", "-l", help="Leads: CSV, JSON Lines, JSON or Parquet; `id` + attributes.")
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", "-e", help="Events: `lead_id`, `type`, `timestamp`, properties.")
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Evaluation time, ISO 8601 (default: now, UTC).", show_default=False)
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="table (sales queue), json or csv.")] = (
        OutputFormat.table
    ),
    explain_id: Annotated[
        str | None, typer.Option("--explain", help="Show one lead's score in detail.", show_default=False)
    ] = None,
    history: Annotated[bool, typer.Option("--history", help="Include each lead's stage history in JSON.")] = False,
) -> None:
    """Score leads and events from files at one time (stateless). Table: the sales queue."""
    from leadscore.cli import output

    m = _load(model)
    when = _at(at)
    all_leads, all_events, bare = _read_inputs(leads, events)
    if explain_id is not None:
        chosen = [lead for lead in all_leads if lead.id == explain_id]
        if not chosen:
            output.fail(f"--explain: no lead {explain_id!r} in the leads or events")
        all_leads = chosen
    results = _score(m, all_leads, all_events, when, model.parent)
    if bare and leads is not None:
        output.note(f"{bare} lead id(s) in the events are not in {leads}: scored on their events alone")
    if explain_id is not None and fmt is OutputFormat.table:
        output.explain(results[0])
    elif fmt is OutputFormat.json:
        output.emit(output.results_json(results, history=history))
    elif fmt is OutputFormat.csv:
        output.emit(output.results_csv(results))
    else:
        title = f"Sales queue: {len(results)} leads scored with {m.name!r} at {output.iso(when)}"
        output.out.print(output.queue_table(results, title=title))


def test(
    model: ModelArg,
    cases: Annotated[
        Path | None,
        typer.Option("--cases", "-c", help="A cases YAML file or a directory of them (default: tests/ by the model)."),
    ] = None,
) -> None:
    """Run a model's test cases (lead, events, time, expected score / labels / stage) and show a diff."""
    from leadscore.cases.model_tests import CaseFileError, default_cases_path, load_cases, run_cases
    from leadscore.cli.output import cases_report, fail

    m = _load(model)
    where = cases if cases is not None else default_cases_path(model)
    if not where.exists():
        fail(f"{where}: no such file or directory (give the cases with --cases FILE-or-DIR)")
    try:
        found = load_cases(where)
    except CaseFileError as exc:
        fail(exc.render())
    outcomes = run_cases(m, found, _scorer(m, model.parent))
    cases_report(outcomes, title=f"Model tests of {m.name!r} ({_display(where)})")
    if not all(o.passed for o in outcomes):
        raise typer.Exit(1)


def _example_dir(name: str) -> Path:
    """The examples directory: in the source tree (editable install) or shipped inside the package."""
    from importlib import resources

    import leadscore

    candidates = [Path(leadscore.__file__).resolve().parents[2] / "examples" / name]
    with contextlib.suppress(ModuleNotFoundError, TypeError):  # exotic importers have no files()
        candidates.append(Path(str(resources.files("leadscore") / "examples" / name)))
    for c in candidates:
        if (c / "model.yaml").is_file():
            return c
    from leadscore.cli.output import fail

    fail(f"the example {name!r} was not found (looked in {', '.join(str(c) for c in candidates)})")


def demo(
    serve: Annotated[
        bool, typer.Option("--serve", help="Then build a demo store with a year of history and serve the dashboard.")
    ] = False,
    folder: Annotated[Path, typer.Option("--dir", help="Where the demo workspace goes (with --serve).")] = Path(
        "leadscore-demo"
    ),
    n_leads: Annotated[int, typer.Option("--leads", min=50, max=100_000, help="Leads to generate (--serve).")] = 2000,
    port: Annotated[int, typer.Option(help="Port of the dashboard (with --serve).", min=1, max=65535)] = 8000,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build the demo store again even if it exists.")] = False,
) -> None:
    """Score the bundled B2B SaaS example and show its sales queue; with --serve, run the dashboard on a demo store."""
    from rich.markdown import Markdown

    from leadscore.cli import output
    from leadscore.triggers.queue_order import sales_queue

    root = _example_dir(DEMO_EXAMPLE)
    m = _load(root / "model.yaml")
    when = _at(DEMO_AT)
    leads, events, _ = _read_inputs(root / "data" / "leads.csv", root / "data" / "events.csv")
    results = _score(m, leads, events, when, root)
    title = f"Sales queue of the {m.name!r} example: {len(results)} leads, {len(events)} events, at {DEMO_AT}"
    output.out.print(output.queue_table(results, title=title))
    rel = _display(root)
    first = sales_queue(results)[0].lead_id if results else "LEAD-ID"
    output.out.print(
        Markdown(
            f"""
**What you are looking at.** Each row is one lead of a fictional B2B software company, scored by the model
in `{rel}/model.yaml` at {DEMO_AT}: a *fit* score from the profile (company size, seniority, industry,
region) plus an *engagement* score from behaviour (pricing-page visits, downloads, webinars, demo and quote
requests, with time windows and decay, minus points for unsubscribes, bounces and silence). Labels give
the temperature (hot / warm / cold) and company size, the lifecycle stage is replayed from the events
(MQL on score, SQL when sales accepts the lead), and the first matching playbook gives the next action
and its priority. Rows are in sales-queue order: priority first, then score. The last column shows the
three biggest contributions, so every number can be checked.

**Try next:**

- `leadscore score {rel}/model.yaml --leads {rel}/data/leads.csv --events {rel}/data/events.csv --at {DEMO_AT}`
- `... --explain {first}` for one lead in detail,
  `--format json` or `--format csv` for programs
- `leadscore test {rel}/model.yaml` runs the model's test cases
- `leadscore validate {rel}/model.yaml` and `leadscore schema --out model.schema.json`
- `leadscore demo --serve` (or `make demo`) builds a store with a year of history and opens the dashboard
"""
        )
    )
    if serve:
        _serve_demo(folder, n_leads, port, rebuild)


def _serve_demo(folder: Path, n_leads: int, port: int, rebuild: bool) -> None:
    """Build (or reuse) the demo workspace, make demo keys, print how to open it, and serve."""
    import os
    import shutil

    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace
    from leadscore.cli import output
    from leadscore.demo import build_demo

    store = folder / "leadscore.db"
    if rebuild or not store.exists():
        if folder.exists() and (folder / "leadscore.yaml").exists():
            shutil.rmtree(folder)  # only a folder this command made before (it holds its project file)
        elif folder.exists() and any(folder.iterdir()):
            output.fail(f"--dir {folder}: the folder exists and is not a demo workspace; choose another")
        output.out.print(f"\nBuilding the demo store in {folder}/: {n_leads:,} generated leads, a year of history, "
                         "replayed month by month (a few minutes on a small machine) ...")

        def progress(done: int, total: int) -> None:
            output.err.print(f"  month {done} of {total}", highlight=False)

        stats = build_demo(folder, n_leads, progress=progress)
        output.out.print(f"{stats.leads:,} leads, {stats.events:,} events, {stats.fired:,} webhook attempts.")
    service = LeadService.from_workspace(Workspace.load(folder))
    try:
        _, admin = service.create_key("demo-admin", ["admin"])
        _, viewer = service.create_key("demo-viewer", ["read"])
        _, intake = service.create_key("demo-tracker", ["intake"], origins=[f"http://127.0.0.1:{port}"])
    finally:
        service.close()
    url = f"http://127.0.0.1:{port}"
    output.out.print(
        f"""
[bold]The dashboard:[/bold] {url}/app/  (sign in with the demo key)
  demo key (admin):      {admin}
  read-only key:         {viewer}
  tracker demo page:     {url}/demo/tracker?key={intake}
  API documentation:     {url}/docs
Reports in a terminal: leadscore report funnel --project {folder}   (Ctrl-C stops the server)
""",
        highlight=False,
    )
    from leadscore.cli.serve import serve as run_server

    os.environ["LEADSCORE_PROJECT"] = str(folder.resolve())
    run_server(host="127.0.0.1", port=port, workers=1, log_level="warning", project=folder)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command(rich_help_panel="Scoring")(validate)
    app.command(rich_help_panel="Scoring")(schema)
    app.command(rich_help_panel="Scoring")(score)
    app.command(rich_help_panel="Scoring")(test)
    app.command(rich_help_panel="Scoring")(demo)
