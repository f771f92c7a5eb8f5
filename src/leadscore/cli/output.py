"""What the CLI shows: rich tables for people, JSON and CSV for programs.

Data goes to stdout and nothing else does, so `leadscore score ... --format json > out.json` is always
valid JSON; messages, warnings and errors go to stderr.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from leadscore.domain import Result, to_iso

if TYPE_CHECKING:
    from leadscore.cases.model_tests import CaseOutcome

# soft_wrap: messages stay on one line (tables still fit the width); highlight off: data is shown as it is
# Piped output (a file, a pager, CI logs) gets room for the queue table instead of the 80 columns of a dumb
# terminal; LEADSCORE_WIDTH sets another width.
_PIPE_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("LEADSCORE_WIDTH", "150"))
out = Console(soft_wrap=True, highlight=False, width=_PIPE_WIDTH)
err = Console(stderr=True, soft_wrap=True, highlight=False)

USER_ERROR = 2


def fail(message: str, code: int = USER_ERROR) -> NoReturn:
    """Print a user error in red on stderr and leave with `code` (2: bad input), never a traceback."""
    err.print(Text(message, style="red"))
    raise typer.Exit(code)


def note(message: str) -> None:
    err.print(Text(message, style="yellow"))


def iso(when: datetime) -> str:
    return to_iso(when)


def number(value: float) -> str:
    """Scores without noise: 46 rather than 46.0, at most two decimals otherwise."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


# -- machine formats ------------------------------------------------------------------------------------
def results_json(results: Iterable[Result], *, history: bool = False) -> str:
    """A JSON list of results sorted by lead id (a stable order for diffs and programs)."""
    rows = [r.to_dict(history=history) for r in sorted(results, key=lambda r: r.lead_id)]
    return json.dumps(rows, indent=2, ensure_ascii=False)


def flatten(result: Result) -> dict[str, Any]:
    """One CSV row per lead: dimensions as `dim.<name>`, labels as `label.<set>`, breakdown compact."""
    row: dict[str, Any] = {
        "lead_id": result.lead_id,
        "at": result.to_dict()["at"],
        "model": result.model,
        "model_version": result.model_version,
        "score": result.score,
    }
    row.update({f"dim.{k}": v for k, v in result.dimensions.items()})
    row.update({f"label.{k}": v for k, v in result.labels.items()})
    pb = result.playbook
    row.update(
        {
            "stage": result.stage,
            "playbook": pb.name if pb else None,
            "priority": pb.priority if pb else None,
            "action": pb.action if pb else None,
            "breakdown": "; ".join(f"{e.rule}={e.points:g}" for e in result.breakdown),
        }
    )
    return row


def results_csv(results: Iterable[Result]) -> str:
    rows = [flatten(r) for r in sorted(results, key=lambda r: r.lead_id)]
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def emit(text: str) -> None:
    """Data for programs, unstyled and unwrapped, on stdout."""
    typer.echo(text, nl=not text.endswith("\n"))


# -- people ---------------------------------------------------------------------------------------------
def _labels(result: Result) -> str:
    return ", ".join(v for v in result.labels.values() if v) or "-"


def _top(result: Result, n: int) -> str:
    entries = sorted(result.breakdown, key=lambda e: -abs(e.points))[:n]
    return ", ".join(f"{e.rule} {'+' if e.points > 0 else ''}{number(e.points)}" for e in entries) or "-"


def queue_table(results: Sequence[Result], *, title: str | None = None, top: int = 3) -> Table:
    """The sales queue: who to call first, why (top contributions) and what to do."""
    # imported here, as the model tests' outcomes are above: with the pure engine's compile they cost
    # every command that only reports or fails (`leadscore batch` among them) about 0.08 s of imports
    from leadscore.triggers.queue_order import sales_queue

    ordered = sales_queue(results)
    dims = list(ordered[0].dimensions) if ordered else []
    show_dims = len(dims) > 1
    has_stage = any(r.stage is not None for r in ordered)
    table = Table(title=title, title_justify="left", show_lines=False, expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("lead", style="bold", no_wrap=True)
    table.add_column("score", justify="right", style="bold")
    if show_dims:
        table.add_column(" / ".join(dims), justify="right")
    table.add_column("labels")
    if has_stage:
        table.add_column("stage")
    table.add_column("next action (priority)")
    table.add_column(f"top {top} reasons", style="dim")
    for i, r in enumerate(ordered, 1):
        cells = [str(i), r.lead_id, number(r.score)]
        if show_dims:
            cells.append(" / ".join(number(r.dimensions[d]) for d in dims))
        cells.append(_labels(r))
        if has_stage:
            cells.append(r.stage or "-")
        pb = r.playbook
        action = "-" if pb is None else f"{pb.action} ({pb.priority if pb.priority is not None else '-'})"
        cells.extend([action, _top(r, top)])
        table.add_row(*(Text(c) for c in cells))
    return table


def explain(result: Result) -> None:
    """One lead in detail: every contribution, labels, stage history and the next action."""
    out.print(f"[bold]{escape(result.lead_id)}[/bold]  score [bold]{number(result.score)}[/bold]  ({result.model})")
    table = Table(show_header=True, title_justify="left")
    table.add_column("rule")
    table.add_column("dimension")
    table.add_column("events", justify="right")
    table.add_column("points", justify="right")
    for e in result.breakdown:
        style = "green" if e.points > 0 else "red"
        events = "" if e.events is None else str(e.events)
        table.add_row(Text(e.rule), Text(e.dimension), events, Text(number(e.points), style))
    table.add_row("[bold]total[/bold]", "", "", f"[bold]{number(result.score)}[/bold]")
    out.print(table)
    if len(result.dimensions) > 1:
        out.print("dimensions: " + ", ".join(f"{k} {number(v)}" for k, v in result.dimensions.items()))
    if result.labels:
        shown = ", ".join(f"{k} = {v if v is not None else '-'}" for k, v in result.labels.items())
        out.print(Text("labels: " + shown))
    if result.stage is not None:
        path = " -> ".join(f"{s.stage} ({s.cause}, {s.to_dict()['at'][:10]})" for s in result.stage_history)
        out.print(Text(f"stage: {result.stage}   history: {path}"))
    pb = result.playbook
    if pb is not None:
        what = pb.action or "-"
        what += f"  (priority {pb.priority})" if pb.priority is not None else ""
        what += f"  content: {', '.join(pb.content)}" if pb.content else ""
        out.print(Text("next action: " + what))
    else:
        out.print("next action: - (no playbook matches)")


# -- model tests ----------------------------------------------------------------------------------------
def _shown(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if value != int(value) else number(value)
    return json.dumps(value, ensure_ascii=False) if value is None or isinstance(value, str) else str(value)


def cases_report(outcomes: Sequence[CaseOutcome], title: str) -> None:
    """A pass/fail table, then for each failure a diff of expected against actual."""
    table = Table(title=title, title_justify="left")
    table.add_column("case")
    table.add_column("where", style="dim", no_wrap=True)
    table.add_column("result", justify="center")
    table.add_column("score", justify="right")
    for o in outcomes:
        mark = Text("pass", "green") if o.passed else Text("FAIL", "bold red")
        score = number(o.result.score) if o.result is not None else "-"
        where = Path(o.case.source).name + (f":{o.case.line}" if o.case.line else "")
        table.add_row(Text(o.case.name), Text(where), mark, score)
    out.print(table)
    for o in outcomes:
        if o.passed:
            continue
        out.print(Text(f"\nFAIL {o.case.name}  ({o.case.location})", "bold red"))
        if o.error is not None:
            out.print(Text(f"  error: {o.error}", "red"))
            continue
        width = max(len(m.what) for m in o.mismatches)
        for m in o.mismatches:
            out.print(Text(f"  {m.what.ljust(width)}  ", "bold") + Text(f"- expected {_shown(m.expected)}", "red"))
            out.print(Text(" " * (width + 4)) + Text(f"+ actual   {_shown(m.actual)}", "green"))
        if o.result is not None and any(m.what.startswith(("breakdown", "score")) for m in o.mismatches):
            actual = ", ".join(f"{e.rule} {number(e.points)}" for e in o.result.breakdown) or "(empty)"
            out.print(Text(f"  actual breakdown: {actual}", "dim"))
    passed = sum(o.passed for o in outcomes)
    style = "green" if passed == len(outcomes) else "bold red"
    out.print(Text(f"\n{passed} of {len(outcomes)} cases passed", style))
