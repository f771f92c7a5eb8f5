"""Batch scoring on the command line: `leadscore batch` (DuckDB or Spark) and `leadscore sql`.

Library imports happen inside the commands so that `leadscore --help` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class Dialect(StrEnum):
    duckdb = "duckdb"
    postgres = "postgres"
    spark = "spark"
    snowflake = "snowflake"
    bigquery = "bigquery"


class BreakdownLayout(StrEnum):
    dimensions = "dimensions"
    columns = "columns"
    list = "list"


class DedupeMode(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


ModelArg = Annotated[Path, typer.Argument(help="The scoring-model YAML file.", show_default=False)]
AtOption = Annotated[
    str | None, typer.Option("--at", help="Evaluation time, ISO 8601 (default: now, UTC).", show_default=False)
]


def batch(
    model: ModelArg,
    leads: Annotated[Path, typer.Option("--leads", "-l", help="Leads: Parquet file or directory, CSV or JSON Lines.")],
    events: Annotated[
        Path, typer.Option("--events", "-e", help="Events: Parquet file or directory, CSV or JSON Lines.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Results: .jsonl (JSON Lines) or .parquet; with --engine spark, a directory of part files.",
        ),
    ],
    at: AtOption = None,
    engine: Annotated[Engine, typer.Option("--engine", help="duckdb (one machine) or spark.")] = Engine.duckdb,
    threads: Annotated[int | None, typer.Option("--threads", help="Threads for DuckDB (default: all cores).")] = None,
    dedupe: Annotated[
        DedupeMode,
        typer.Option("--dedupe", help="Drop repeated event ids: auto (check first), always, never (ids are unique)."),
    ] = DedupeMode.auto,
    breakdown: Annotated[
        BreakdownLayout,
        typer.Option(
            "--breakdown",
            help="Parquet output: the score of each dimension without the rules' breakdown (dimensions, the "
            "fastest), the breakdown as one column per rule and dimension (columns), or as the list of "
            "`leadscore score` (list). JSON Lines always has the list, and so has --engine spark.",
        ),
    ] = BreakdownLayout.dimensions,
) -> None:
    """Re-score every lead from files, in one SQL pass; equal to `leadscore score` lead by lead."""
    from rich.text import Text

    from leadscore._extras import require
    from leadscore.cli.core import _at, _load

    require("spark" if engine == Engine.spark else "batch", "`leadscore batch`")
    from leadscore.cli.output import err, fail

    m = _load(model)
    when = _at(at)
    if out.suffix.lower() not in (".jsonl", ".ndjson", ".json", ".parquet"):
        fail(f"--out {out}: use a .jsonl (JSON Lines) or .parquet file")
    from leadscore.io.rejects import same_file

    for given in (leads, events, model):
        if same_file(out, given) or (given.is_dir() and out.resolve().is_relative_to(given.resolve())):
            fail(f"--out {out}: that is an input ({given}); write the results elsewhere")
    from leadscore.batch import BatchStats, NotExpressible, SourceError
    from leadscore.cli.core import _scorer
    from leadscore.engine import ScoringDataError
    from leadscore.io import DataFileError

    predictive = bool(m.predictive_dimensions())
    if predictive and engine is Engine.spark:
        fail(f"{model}: predictive dimensions are computed by their trained models, not in Spark; use --engine duckdb")
    # predictive dimensions: their artifacts (next to the model file) score every lead in the pure scorer
    predictors = _scorer(m, model.parent).predictors if predictive else None

    stats: BatchStats
    try:
        with err.status(f"scoring with {engine.value}..."):
            if engine is Engine.spark:
                from leadscore.batch.spark.run import SparkUnavailable, run_spark

                try:
                    stats = run_spark(m, leads, events, when, out)
                except SparkUnavailable as exc:
                    fail(str(exc))
            else:
                from leadscore.batch import run_batch

                stats = run_batch(
                    m,
                    leads,
                    events,
                    when,
                    out,
                    breakdown=breakdown.value,
                    threads=threads,
                    dedupe=dedupe.value,
                    predictors=predictors,
                ).stats
    except (SourceError, NotExpressible, DataFileError) as exc:
        fail(str(exc))
    except ScoringDataError as exc:
        fail(f"bad data for lead {exc.lead_id!r}: {exc.detail}")
    secs = stats.total_seconds
    summary = (
        f"{stats.leads:,} leads, {stats.events:,} events in {secs:.2f} s "
        f"({stats.events_per_second:,.0f} events/s); {stats.fallback_leads:,} leads scored by the pure scorer"
    )
    if stats.fallback_leads and stats.fallback_reason:
        summary += f" ({stats.fallback_reason})"
    if stats.replayed_leads:
        summary += f"; {stats.replayed_leads:,} lifecycle replays in SQL"
    err.print(Text(summary, style="green"))
    err.print(f"wrote {out}" + ("/ (a directory of part files)" if engine is Engine.spark else ""))


def sql(
    model: ModelArg,
    dialect: Annotated[Dialect, typer.Option("--dialect", "-d", help="SQL dialect of the target engine.")] = (
        Dialect.duckdb
    ),
    at: AtOption = None,
    dedupe: Annotated[bool, typer.Option("--dedupe", help="Include the pass that drops repeated event ids.")] = False,
) -> None:
    """Print the scoring query, for a data team to run in its warehouse or dbt project."""
    from leadscore._extras import require

    require("batch", "`leadscore sql`")
    from leadscore.batch import NotExpressible
    from leadscore.cli.core import _at, _load
    from leadscore.cli.output import emit, fail
    from leadscore.domain.timeutil import to_micros
    from leadscore.sql.dialects import header, scoring_sql

    m = _load(model)
    if bool(m.predictive_dimensions()):
        fail(f"{model}: predictive dimensions are computed by their trained models and cannot be written as SQL")
    when = _at(at)
    try:
        text, plan = scoring_sql(m, dialect.value, to_micros(when), dedupe=dedupe)
    except NotExpressible as exc:
        fail(str(exc))
    emit(header(m, plan, dialect.value, when) + text + ";")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command(rich_help_panel="Batch")(batch)
    app.command(rich_help_panel="Batch")(sql)
