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

if TYPE_CHECKING:
    import pandas as pd

    from leadscore.predictive.metrics import Metrics
    from leadscore.predictive.training import TrainingResult

console = Console()
err_console = Console(stderr=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    from leadscore.predictive.errors import PredictiveError

    try:
        yield
    except PredictiveError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _metrics_table(title: str, columns: dict[str, Metrics]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    for name in columns:
        table.add_column(name, justify="right")
    for key in ("rows", "positives", "base_rate", "roc_auc", "pr_auc", "log_loss", "brier", "ece"):
        cells = []
        for m in columns.values():
            value = getattr(m, key)
            cells.append(str(value) if isinstance(value, int) else _fmt(value))
        table.add_row(key, *cells)
    return table


def _deciles_table(name: str, m: Metrics) -> Table:
    table = Table(title=f"Lift and cumulative gains by decile ({name})")
    for col in ("decile", "rows", "positives", "rate", "lift", "cum. gain"):
        table.add_column(col, justify="right")
    for d in m.deciles:
        table.add_row(
            str(d.decile), str(d.rows), str(d.positives), f"{d.rate:.1%}", f"{d.lift:.2f}", f"{d.cumulative_gain:.1%}"
        )
    return table


def _calibration_table(name: str, m: Metrics) -> Table:
    table = Table(title=f"Calibration ({name})")
    for col in ("predicted", "rows", "mean predicted", "observed"):
        table.add_column(col, justify="right")
    for c in m.calibration:
        table.add_row(c.bin, str(c.rows), f"{c.mean_predicted:.1%}", f"{c.observed_rate:.1%}")
    return table


def _segments_table(segments: dict[str, Metrics], column: str) -> Table:
    table = Table(title=f"Per segment ({column})")
    for col in ("segment", "rows", "rate", "ROC AUC", "PR AUC", "log loss", "Brier", "ECE"):
        table.add_column(col, justify="right")
    for name, m in segments.items():
        table.add_row(
            name, str(m.rows), f"{m.base_rate:.1%}", _fmt(m.roc_auc), _fmt(m.pr_auc), _fmt(m.log_loss),
            _fmt(m.brier), _fmt(m.ece),
        )  # fmt: skip
    return table


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
) -> None:
    """Train a predictive score from a flat table (DATA --label) or from history (--events/--leads or
    --project): a tournament of models judged on held-out leads, then calibrated."""
    from leadscore._extras import require

    require("predictive", "`leadscore train`")
    from leadscore.predictive import artifact as artifacts
    from leadscore.predictive.errors import DataError
    from leadscore.predictive.table import read_table
    from leadscore.predictive.training import train as train_model

    history_mode = events is not None or project is not None
    with _user_errors():
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
    con = connect_history(events=events, leads=leads, project=project)
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
        table.add_row(c.name, _fmt(c.validation_auc), _fmt(c.heldout_auc), mark)
    console.print(table)
    console.print(_metrics_table("Held-out metrics (calibrated)", {result.chosen: result.metrics}))
    console.print(_deciles_table(result.chosen, result.metrics))
    console.print(_calibration_table(result.chosen, result.metrics))
    if result.segments and segment:
        console.print(_segments_table(result.segments, segment))
    meta = result.artifact.metadata
    console.print(f"wrote {out} (version {result.artifact.version}, calibration {meta['calibration']['method']})")
    if report:
        _write_json(report, result.report())
    if html:
        run = Run(result.chosen, result.heldout_y, result.heldout_p, result.metrics, result.segments)
        page = render(title, [run], result.candidates, result.chosen, result.notes, result.warnings)
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
) -> None:
    """Evaluate an artifact on labelled data, compare two artifacts, or check live data for drift."""
    from leadscore._extras import require

    require("predictive", "`leadscore evaluate`")
    from leadscore.predictive import artifact as artifacts
    from leadscore.predictive.report_html import Run, render
    from leadscore.predictive.scoring import evaluate as evaluate_model
    from leadscore.predictive.scoring import live_drift, probabilities
    from leadscore.predictive.table import parse_label, read_table

    with _user_errors():
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
                    f"mean score: training {_fmt(drift.training_mean_score)}, today {drift.live_mean_score:.3f}"
                )
                for warning in drift.warnings:
                    console.print(f"[yellow]warning: {warning}[/yellow]", highlight=False)
                if not drift.warnings:
                    console.print("[green]no retraining needed[/green]")
            if report:
                _write_json(report, payload)
            return
        results = {name: evaluate_model(model, frame, segment) for name, model in models.items()}
    console.print(_metrics_table(f"Metrics on {data.name}", {n: r.metrics for n, r in results.items()}))
    for name, result in results.items():
        console.print(_deciles_table(name, result.metrics))
        console.print(_calibration_table(name, result.metrics))
        if result.segments and segment:
            console.print(_segments_table(result.segments, segment))
    if report:
        payload = {name: r.report() for name, r in results.items()}
        _write_json(report, payload[artifact.name] if len(payload) == 1 else {"models": payload})
    if html:
        runs = []
        for name, result in results.items():
            model = models[name]
            y = parse_label(frame[model.label], model.label).to_numpy()
            runs.append(Run(name, y, probabilities(model, frame), result.metrics, result.segments))
        html.write_text(render(f"leadscore evaluation: {data.name}", runs), encoding="utf-8")
        console.print(f"wrote {html}")


def predict(
    artifact: Annotated[Path, typer.Argument(help="Artifact written by `leadscore train`.")],
    data: Annotated[Path, typer.Argument(help="Leads to score (CSV or Parquet).")],
    out: Annotated[Path, typer.Option("--out", help="Output file: .csv, .jsonl or .parquet.")],
    top: Annotated[int, typer.Option(help="Top positive and negative factors per lead.")] = 3,
    keep: Annotated[list[str] | None, typer.Option(help="Input column to copy to the output (repeatable).")] = None,
) -> None:
    """Score leads in batch; each score carries its top positive and negative factors."""
    from leadscore._extras import require

    require("predictive", "`leadscore predict`")
    from leadscore.predictive import artifact as artifacts
    from leadscore.predictive.errors import DataError
    from leadscore.predictive.scoring import predict as predict_rows
    from leadscore.predictive.table import read_table

    with _user_errors():
        suffix = out.suffix.lower()
        if suffix not in {".csv", ".jsonl", ".parquet"}:
            raise DataError(f"{out}: unknown output format {suffix!r}; use .csv, .jsonl or .parquet")
        model = artifacts.load(artifact)
        frame = read_table(data)
        if keep:
            missing = [c for c in keep if c not in frame.columns]
            if missing:
                raise DataError(f"{data}: unknown column(s) to keep: {', '.join(missing)}")
        with _progress(f"scoring {len(frame):,} rows"):
            scored = predict_rows(model, frame, top=top, keep=keep)
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


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.command("predict")(predict)
