"""The store commands of the active model: what a new model would change (plan), and making it active
(apply)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadscore.cli.options import AtOpt, Format, FormatOpt, ProjectOpt
from leadscore.cli.output import err
from leadscore.cli.service import open_service
from leadscore.cli.store_output import print_json, print_rows, say


def model_plan(file: Path, format: FormatOpt = Format.table, at: AtOpt = None, project: ProjectOpt = None) -> None:
    """What a new model would change on today's data. Writes nothing."""
    with open_service(project, at) as service:
        plan = service.plan_model(file)
    if format == "json":
        print_json(plan.to_dict())
        return
    say(
        f"model {plan.version}: {plan.leads} leads, {plan.score_changed} change score, "
        f"{plan.stage_changed} change stage, {plan.playbook_changed} change playbook"
    )
    for name, n in plan.labels_changed.items():
        say(f"  label {name}: {n} leads change")
    for trigger, n in plan.triggers.items():
        say(f"  trigger {trigger} would fire {n} times")
    print_rows("biggest movers", ["lead_id", "before", "after", "delta"], plan.movers)


def model_apply(
    file: Path,
    quiet: Annotated[bool, typer.Option("--quiet", help="Fire no triggers.")] = False,
    project: ProjectOpt = None,
) -> None:
    """Make a new model active and rescore every lead under it (the old version stays in history)."""
    with open_service(project) as service, err.status("rescoring every lead under the new model..."):
        applied = service.apply_model(file, quiet=quiet)
    engine = getattr(applied.rescored, "engine", "pure scorer")
    say(
        f"model {applied.version} active (was {applied.previous}); {applied.rescored.leads} leads rescored "
        f"({engine}), {applied.rescored.changed} changed, {len(applied.rescored.firings)} triggers"
    )
