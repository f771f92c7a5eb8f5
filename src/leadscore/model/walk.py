"""The one walk over a model's conditions: every `when:`, nested ones included, with its place in the file.

The model checks, the horizons, the event relevance and the schema inference all look at every
condition of a model; they walk it here rather than each re-implementing the recursion over
`all` / `any` / `not` and over rules, labels, lifecycle, playbooks and triggers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from leadscore.model.conditions import Condition
from leadscore.model.spec import ConditionRule, ScoringModel

Section = Literal["rules", "labels", "lifecycle", "playbooks", "triggers"]


@dataclass(frozen=True, slots=True)
class Place:
    section: Section
    path: str  # in the file's terms, for error messages: `labels.tier[1].when.all[0]`
    condition: Condition


def walk(cond: Condition, path: str = "when") -> Iterator[tuple[Condition, str]]:
    """The condition and every condition nested in it, parents first, in file order."""
    yield cond, path
    for key, child in cond.children():
        yield from walk(child, f"{path}.{key}")


def roots(model: ScoringModel, *, triggers: bool = False) -> Iterator[Place]:
    """Every `when:` of the model in file order: condition rules, label bands, automatic transitions,
    playbooks and, with `triggers`, the triggers' (these look at a new result, not at a lead's events,
    so what a lead's result evaluates leaves them out)."""
    for i, rule in enumerate(model.rules):
        if isinstance(rule, ConditionRule):
            yield Place("rules", f"rules[{i}].when", rule.when)
    for set_name, bands in model.labels.items():
        for i, band in enumerate(bands):
            if band.when is not None:
                yield Place("labels", f"labels.{set_name}[{i}].when", band.when)
    for i, tr in enumerate(model.lifecycle.transitions if model.lifecycle else []):
        if tr.when is not None:
            yield Place("lifecycle", f"lifecycle.transitions[{i}].when", tr.when)
    for i, pb in enumerate(model.playbooks):
        if pb.when is not None:
            yield Place("playbooks", f"playbooks[{i}].when", pb.when)
    if triggers:
        for i, trig in enumerate(model.triggers):
            if trig.when is not None:
                yield Place("triggers", f"triggers[{i}].when", trig.when)


def places(model: ScoringModel, *, triggers: bool = False) -> Iterator[Place]:
    """Every condition of the model, nested ones included, each after its parent, in file order."""
    for root in roots(model, triggers=triggers):
        for cond, path in walk(root.condition, root.path):
            yield Place(root.section, path, cond)


def conditions(model: ScoringModel, *, triggers: bool = False) -> Iterator[Condition]:
    """Every condition a lead's result evaluates (with `triggers`, the triggers' too), nested ones included."""
    for place in places(model, triggers=triggers):
        yield place.condition
