"""`leadscore train`, `evaluate`, `predict`: predictive scores learned from past outcomes.

Thin: the work is in leadscore.predictive; this module parses options, shows progress and tables, and turns
the library's errors into red messages with exit code 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from leadscore.cli.predictive_tables import (
    calibration_table,
    deciles_table,
    fmt,
    metrics_table,
    parts_table,
    segments_table,
)

if TYPE_CHECKING:
    import pandas as pd

    from leadscore.app.service import LeadService
    from leadscore.predictive.training import TrainingResult

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # an error is one line, whatever the terminal width


@contextmanager
def _user_errors(source: Path | None = None) -> Iterator[None]:
    """Library errors as one red line naming the file they are about (when the message does not already)."""
    from leadscore.predictive.errors import DataError, PredictiveError

    try:
        yield
    except PredictiveError as exc:
        text = " ".join(str(exc).split())
        if source is not None and isinstance(exc, DataError) and not text.startswith(str(source)):
            text = f"{source}: {text.removeprefix('data: ')}"
        err_console.print(f"[red]error:[/red] {text}", highlight=False, markup=True)
        raise typer.Exit(2) from None


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    console.print(f"wrote {path}")


@contextmanager
def _progress(message: str) -> Iterator[Callable[[str], None]]:
    with console.status(message) as status:
        yield lambda text: status.update(f"{message}: {text}")


def train(
    data: Annotated[
        Path | None, typer.Argument(help="CSV (any of , ; tab |) or Parquet file with one row per lead.")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="Outcome column (yes/no, true/false, 1/0).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="Column to leave out (repeatable).")] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Column giving each row's time, for a split by time.")
    ] = None,
    split: Annotated[
        str, typer.Option(help="auto (time if --time), time (file order without --time), stratified.")
    ] = "auto",
    segment: Annotated[str | None, typer.Option(help="Column to break the metrics down by.")] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="History: events (Parquet file or directory, or CSV).")
    ] = None,
    leads: Annotated[Path | None, typer.Option("--leads", help="History: leads with their attributes.")] = None,
    project: Annotated[
        Path | None, typer.Option("--project", help="History: a leadscore workspace whose store to learn from.")
    ] = None,
    outcome: Annotated[str, typer.Option(help="History: the event type to predict.")] = "deal_won",
    horizon: Annotated[str, typer.Option(help="History: predict the outcome within this time.")] = "90d",
    every: Annotated[str, typer.Option(help="History: one snapshot of every lead per this time.")] = "30d",
    rules: Annotated[
        Path | None, typer.Option("--model", help="History: a rules-only model whose dimensions become features.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Artifact file to write.")] = Path("model.lsm"),
    report: Annotated[Path | None, typer.Option(help="Write held-out metrics as JSON.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML evaluation page.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (splits, models).")] = 42,
    refit: Annotated[bool, typer.Option(help="With a time split: retrain on every row after evaluating.")] = False,
    target: Annotated[
        Path | None,
        typer.Option(
            "--target",
            help="Table: today's leads (features only) to check for a population shift; default: the held-out part.",
        ),
    ] = None,
    missing_values: Annotated[
        list[str] | None,
        typer.Option(
            "--missing-value",
            help="Table: a text answer that means no answer (repeatable; default: empty, Select, N/A, -, ?, null...).",
        ),
    ] = None,
) -> None:
    """Train a predictive score from a flat table (DATA --label) or from history (--events/--leads or
    --project): a tournament of models judged on held-out leads, then calibrated."""
    from leadscore._extras import require

    require("predictive", "`leadscore train`")
    from leadscore.predictive import artifact as artifacts
    from leadscore.predictive.errors import DataError
    from leadscore.predictive.features import DEFAULT_PLACEHOLDERS
    from leadscore.predictive.table import read_table
    from leadscore.predictive.training import train as train_model

    history_mode = events is not None or project is not None
    with _user_errors(data):
        if history_mode:
            if data is not None or label is not None:
                raise DataError("give either a table with --label, or history with --events/--project, not both")
            result, title = _train_history(events, leads, project, outcome, horizon, every, rules, seed, refit)
            segment = None
        else:
            if data is None or label is None:
                raise DataError("give a table and its outcome column (DATA --label COLUMN), or --events/--project")
            frame = read_table(data)
            population: pd.DataFrame | Literal["heldout"] = read_table(target) if target is not None else "heldout"
            with _progress(f"training on {data.name}") as progress:
                result = train_model(
                    frame, label, exclude=exclude or [], time=time, split=split,  # type: ignore[arg-type]
                    segment=segment, seed=seed, refit=refit, progress=progress, target=population,
                    placeholders=tuple(missing_values) if missing_values else DEFAULT_PLACEHOLDERS,
                )  # fmt: skip
            title = f"leadscore: {data.name}, label {label}"
        artifacts.save(result.artifact, out)
    _show_training(result, title, out, report, html, segment)


def _train_history(
    events: Path | None, leads: Path | None, project: Path | None, outcome: str, horizon: str, every: str,
    rules: Path | None, seed: int, refit: bool,
) -> tuple[TrainingResult, str]:  # fmt: skip
    from leadscore.model import ModelError, load_model
    from leadscore.predictive.errors import DataError
    from leadscore.predictive.history import connect_history, days, train_history

    horizon_days, every_days = days(horizon, "--horizon"), days(every, "--every")
    rules_model, rules_text = None, None
    if rules is not None:
        try:
            rules_model = load_model(rules)
        except ModelError as exc:
            raise DataError(exc.render()) from None
        rules_text = rules.read_text(encoding="utf-8")
    if project is None:
        con = connect_history(events=events, leads=leads)
    else:
        if events is not None or leads is not None:
            raise DataError("give either --project or --events/--leads, not both")
        service = _project_service(project)
        try:
            con = connect_history(store=service.store)
        finally:
            service.close()
    source = f"store of {project}" if project is not None else str(events)
    with _progress(f"training from history in {source}") as progress:
        result, summary = train_history(
            con, outcome=outcome, horizon_days=horizon_days, every_days=every_days, rules=rules_model,
            rules_source=rules_text, seed=seed, refit=refit, progress=progress,
        )  # fmt: skip
    console.print(
        f"{summary['rows']:,} snapshots of {summary['leads']:,} leads at {summary['snapshots']} times "
        f"(every {every}), {summary['positives']:,} reached {outcome} within {horizon}",
        highlight=False,
    )
    return result, f"leadscore: {outcome} within {horizon}, from {source}"


def _project_service(project: Path) -> LeadService:
    """The service of the workspace at `project`, whose store training from history reads."""
    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace, WorkspaceError
    from leadscore.predictive.errors import DataError
    from leadscore.store import StoreError

    try:
        return LeadService.from_workspace(Workspace.load(project))
    except (WorkspaceError, StoreError) as exc:
        raise DataError(str(exc)) from None


def _show_training(
    result: TrainingResult, title: str, out: Path, report: Path | None, html: Path | None, segment: str | None
) -> None:
    from leadscore.predictive.report_html import Run, render

    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]", highlight=False)
    for warning in result.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]", highlight=False)
    table = Table(title=f"Tournament ({result.split.description})")
    for col in ("candidate", "validation AUC", "held-out AUC", ""):
        table.add_column(col, justify="right" if col else "left")
    for c in result.candidates:
        mark = "[bold green]chosen[/bold green]" if c.name == result.chosen else ""
        table.add_row(c.name, fmt(c.validation_auc), fmt(c.heldout_auc), mark)
    console.print(table)
    if result.parts:
        console.print(parts_table(result.parts, result.split.description))
    intervals = {result.chosen: result.intervals}
    console.print(metrics_table("Held-out metrics (calibrated)", {result.chosen: result.metrics}, intervals))
    if result.folds is not None:
        console.print(f"held-out ROC AUC per fold: {result.folds.describe()}", highlight=False)
    if len(result.heldout_p):
        console.print(
            f"base rate: predicted {float(result.heldout_p.mean()):.1%}, actual {result.metrics.base_rate:.1%}",
            highlight=False,
        )
    console.print(deciles_table(result.chosen, result.metrics))
    console.print(calibration_table(result.chosen, result.metrics))
    if result.segments and segment:
        console.print(segments_table(result.segments, segment))
    meta = result.artifact.metadata
    console.print(f"wrote {out} (version {result.artifact.version}, calibration {meta['calibration']['method']})")
    if report:
        _write_json(report, result.report())
    if html:
        run = Run(
            result.chosen, result.heldout_y, result.heldout_p, result.metrics, result.segments, result.intervals,
            result.folds,
        )  # fmt: skip
        meta = result.artifact.metadata
        page = render(
            title, [run], result.candidates, result.chosen, result.notes, result.warnings,
            split=result.split.description, parts=result.parts, importance=meta.get("importance", {}),
            permutation=meta.get("permutation_importance", {}),
        )  # fmt: skip
        html.write_text(page, encoding="utf-8")
        console.print(f"wrote {html}")


def evaluate(
    artifact: Annotated[Path, typer.Argument(help="Artifact written by `leadscore train`.")],
    data: Annotated[Path, typer.Argument(help="Labelled data (or today's leads with --live).")],
    compare: Annotated[Path | None, typer.Option(help="A second artifact to compare side by side.")] = None,
    segment: Annotated[str | None, typer.Option(help="Column to break the metrics down by.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write the metrics as JSON.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML evaluation page.")] = None,
    live: Annotated[bool, typer.Option(help="Compare today's features and scores with training (drift).")] = False,
    allow_training_rows: Annotated[
        bool, typer.Option(help="Evaluate even rows the model was trained on (the figures are then not held-out).")
    ] = False,
    allow_missing: Annotated[
        bool, typer.Option(help="Score even when input columns are missing (they count as unknown; a warning).")
    ] = False,
) -> None:
    """Evaluate an artifact on labelled data, compare two artifacts, or check live data for drift."""
    from leadscore._extras import require

    require("predictive", "`leadscore evaluate`")
    from leadscore.predictive import artifact as artifacts
    from leadscore.predictive.report_html import Run, render
    from leadscore.predictive.scoring import evaluate as evaluate_model
    from leadscore.predictive.scoring import live_drift, probabilities
    from leadscore.predictive.table import parse_label, read_table

    with _user_errors(data):
        models = {artifact.name: artifacts.load(artifact)}
        if compare:
            name = compare.name if compare.name != artifact.name else f"{compare.name} (2)"
            models[name] = artifacts.load(compare)
        frame = read_table(data)
        if live:
            payload: dict[str, Any] = {}
            for name, model in models.items():
                drift = live_drift(model, frame)
                payload[name] = drift.report()
                table = Table(title=f"Drift against training ({name}); PSI > 0.25 means retrain")
                for col in ("feature", "PSI", "status"):
                    table.add_column(col, justify="right" if col == "PSI" else "left")
                table.add_row("[bold]score[/bold]", f"{drift.score_psi:.3f}", drift.score_status)
                for row in drift.features:
                    colour = {"retrain": "red", "moderate": "yellow"}.get(row.status, "green")
                    table.add_row(row.name, f"{row.psi:.3f}", f"[{colour}]{row.status}[/{colour}]")
                console.print(table)
                console.print(
                    f"mean score: training {fmt(drift.training_mean_score)}, today {drift.live_mean_score:.3f}"
                )
                for warning in drift.warnings:
                    console.print(f"[yellow]warning: {warning}[/yellow]", highlight=False)
                if not drift.warnings:
                    console.print("[green]no retraining needed[/green]")
            if report:
                _write_json(report, payload)
            return
        results = {
            name: evaluate_model(
                model, frame, segment, allow_training_rows=allow_training_rows, allow_missing=allow_missing
            )
            for name, model in models.items()
        }
    for name, result in results.items():
        for note in result.notes:
            console.print(f"[dim]note ({name}): {note}[/dim]", highlight=False)
        for warning in result.warnings:
            console.print(f"[bold yellow]warning ({name}): {warning}[/bold yellow]", highlight=False)
    heldout = all(r.heldout for r in results.values())
    heading = (
        f"Held-out metrics on {data.name}" if heldout else f"Metrics on {data.name} - NOT held-out (training rows)"
    )
    console.print(
        metrics_table(heading, {n: r.metrics for n, r in results.items()}, {n: r.intervals for n, r in results.items()})
    )
    for name, result in results.items():
        console.print(deciles_table(name, result.metrics))
        console.print(calibration_table(name, result.metrics))
        if result.segments and segment:
            console.print(segments_table(result.segments, segment))
    if report:
        payload = {name: r.report() for name, r in results.items()}
        _write_json(report, payload[artifact.name] if len(payload) == 1 else {"models": payload})
    if html:
        runs = []
        for name, result in results.items():
            model = models[name]
            y = parse_label(frame[model.label], model.label).to_numpy()
            runs.append(Run(name, y, probabilities(model, frame), result.metrics, result.segments, result.intervals))
        warnings = [w for r in results.values() for w in r.warnings]
        page = render(
            f"leadscore evaluation: {data.name}", runs, warnings=warnings, heading=heading,
            split=f"evaluation on {data.name} ({len(frame):,} rows)",
        )  # fmt: skip
        html.write_text(page, encoding="utf-8")
        console.print(f"wrote {html}")


def predict(
    artifact: Annotated[Path, typer.Argument(help="Artifact written by `leadscore train`.")],
    data: Annotated[Path, typer.Argument(help="Leads to score (CSV or Parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Output file: .csv, .jsonl or .parquet.")],
    top: Annotated[int, typer.Option(help="Top positive and negative factors per lead.")] = 3,
    keep: Annotated[list[str] | None, typer.Option(help="Input column to copy to the output (repeatable).")] = None,
    allow_missing: Annotated[
        bool, typer.Option(help="Score even when input columns are missing (they count as unknown; a warning).")
    ] = False,
) -> None:
    """Score leads in batch; each score carries its top positive and negative factors."""
    from leadscore._extras import require

    require("predictive", "`leadscore predict`")
    from leadscore.predictive import artifact as artifacts
    from leadscore.predictive.errors import DataError
    from leadscore.predictive.guards import check_inputs
    from leadscore.predictive.scoring import predict as predict_rows
    from leadscore.predictive.table import read_table

    with _user_errors(data):
        suffix = out.suffix.lower()
        if suffix not in {".csv", ".jsonl", ".parquet"}:
            raise DataError(f"{out}: unknown output format {suffix!r}; use .csv, .jsonl or .parquet")
        model = artifacts.load(artifact)
        frame = read_table(data)
        if keep:
            missing = [c for c in keep if c not in frame.columns]
            if missing:
                raise DataError(f"{data}: unknown column(s) to keep: {', '.join(missing)}")
        check = check_inputs(model, frame, allow_missing)
        for note in check.notes:
            console.print(f"[dim]note: {note}[/dim]", highlight=False)
        for warning in check.warnings:
            console.print(f"[bold yellow]warning: {warning}[/bold yellow]", highlight=False)
        with _progress(f"scoring {len(frame):,} rows"):
            scored = predict_rows(model, frame, top=top, keep=keep, allow_missing=allow_missing)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        flat = scored.copy()
        for col in ("top_positive", "top_negative"):
            if col in flat.columns:
                flat[col] = flat[col].map("; ".join)
        flat.to_csv(out, index=False)
    elif suffix == ".jsonl":
        scored.to_json(out, orient="records", lines=True, force_ascii=False)
    else:
        scored.to_parquet(out, index=False)
    console.print(f"wrote {len(scored):,} scores to {out} (model {model.version})")


def recalibrate(
    artifact: Annotated[Path, typer.Argument(help="Artifact written by `leadscore train`.")],
    data: Annotated[Path, typer.Argument(help="The most recent labelled leads (not used in training).")],
    out: Annotated[Path, typer.Option("--out", help="The recalibrated artifact to write (a new file).")],
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            help="sigmoid (refit the curve) or shift (move the trained curve to the recent base rate); "
            "default: the one training recommended.",
        ),
    ] = None,
) -> None:
    """Refit only the score-to-probability curve on recent outcomes, keeping the model's ranking: for when
    the conversion rate has moved since training."""
    from leadscore.predictive import artifact as artifacts
    from leadscore.predictive.errors import DataError
    from leadscore.predictive.recalibration import recalibrate as recalibrate_model
    from leadscore.predictive.table import read_table

    with _user_errors(data):
        if out.resolve() == artifact.resolve():
            raise DataError(f"{out}: is the input artifact; write the recalibrated model to a new file")
        model = artifacts.load(artifact)
        new, summary = recalibrate_model(model, read_table(data), method)  # type: ignore[arg-type]
        artifacts.save(new, out)
    console.print(
        f"recalibrated ({summary['method']}) on {summary['rows']:,} rows (base rate {summary['base_rate']:.1%}): "
        "mean predicted "
        f"{summary['mean_predicted_before']:.1%} -> {summary['mean_predicted_after']:.1%}, log loss "
        f"{summary['log_loss_before']:.3f} -> {summary['log_loss_after']:.3f} (on these rows)",
        highlight=False,
    )
    console.print(f"wrote {out} (version {new.version})")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("train")(train)
    app.command("recalibrate")(recalibrate)
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
