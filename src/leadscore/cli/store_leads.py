"""The store commands on one lead or person: erase, export, merge, stage set, outcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.options import AtOpt, ProjectOpt
from leadscore.cli.output import out
from leadscore.cli.service import open_service
from leadscore.cli.store_output import error, say


def erase(
    lead: str, yes: Annotated[bool, typer.Option("--yes", help="Confirm.")] = False, project: ProjectOpt = None
) -> None:
    """Remove a lead, its events and its history (right to be forgotten)."""
    if not yes:
        error("erasing cannot be undone: add --yes")
        raise typer.Exit(2)
    with open_service(project) as service:
        person = service.person(lead)
        counts = service.erase(lead)
    held = "" if person == lead else f" (which {lead} was merged into)"
    say(f"erased {person}{held}: " + ", ".join(f"{n} {t}" for t, n in counts.items() if n))


def export(
    lead: str,
    out_file: Annotated[Path | None, typer.Option("--out", help="JSON file (default: print).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
    project: ProjectOpt = None,
) -> None:
    """Write everything held about a lead (or the lead a merged id belongs to), as JSON."""
    from leadscore.io.safe_write import write_text_file

    with open_service(project) as service:
        data = service.export(lead).model_dump(mode="json")
        text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
        if out_file is not None:
            write_text_file(out_file, text + "\n", force=force)  # a refusal exits 2 like any user error
    if out_file is None:
        out.print(text, markup=False, highlight=False)
    else:
        say(f"wrote {out_file}")


def merge(keep: str, other: str, project: ProjectOpt = None) -> None:
    """Merge lead OTHER into KEEP (the same person); both histories are kept."""
    with open_service(project) as service:
        result = service.merge(keep, other)
    say(f"merged {other} into {keep}: score {result.score:.2f}, stage {result.stage}")


def stage_set(lead: str, stage: str, at: AtOpt = None, project: ProjectOpt = None) -> None:
    """Move a lead to a stage by hand (recorded as a stage_set event)."""
    with open_service(project, at) as service:
        result = service.set_stage(lead, stage)
    say(f"{lead}: stage {result.stage}, score {result.score:.2f}")


def outcome(lead: str, outcome: str, at: AtOpt = None, project: ProjectOpt = None) -> None:
    """Record a sales outcome: accepted, rejected, opportunity, won or lost."""
    with open_service(project, at) as service:
        result = service.record_outcome(lead, outcome)
    say(f"{lead}: stage {result.stage}, score {result.score:.2f}")
