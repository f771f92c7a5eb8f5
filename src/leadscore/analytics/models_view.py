"""The live model in a form people read: rules by dimension, labels, lifecycle, playbooks, triggers;
its versions and the line-by-line difference between two of them."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel

from leadscore.model.spec import ConditionRule, EventRule, ScoringModel

_SUBJECTS = (
    "attribute",
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "none",
    "last",
    "score",
    "label",
    "stage",
    "all",
    "any",
    "not",
    "of",
)


def flow(value: Any) -> str:
    """A condition as compact YAML flow text, its subject first: `{attribute: employees, gte: 100}`."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", exclude_defaults=True, exclude_none=True, by_alias=True)
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (_SUBJECTS.index(k) if k in _SUBJECTS else len(_SUBJECTS), k))
        return "{" + ", ".join(f"{k.rstrip('_')}: {flow(value[k])}" for k in keys if value[k] not in ({}, [])) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class RuleView(BaseModel):
    id: str
    points: float
    kind: str
    trigger: str
    where: str | None
    within: str | None
    decay: str | None
    limit: float | None
    once: bool
    description: str | None


class DimensionView(BaseModel):
    name: str
    description: str | None
    floor: float | None
    cap: float | None
    predictive: str | None
    rules: list[RuleView]


class ModelView(BaseModel):
    name: str
    description: str | None
    dimensions: list[DimensionView]
    labels: list[tuple[str, list[tuple[str, str | None]]]]
    stages: list[str]
    exits: list[str]
    initial: str | None
    transitions: list[dict[str, str | None]]
    playbooks: list[dict[str, Any]]
    triggers: list[dict[str, Any]]


def _rule(rule: EventRule | ConditionRule) -> RuleView:
    if isinstance(rule, EventRule):
        decay = None
        if rule.decay is not None:
            decay = flow(rule.decay)
        return RuleView(
            id=rule.id,
            points=rule.points,
            kind="event",
            trigger=", ".join(rule.on),
            where=flow(rule.where) if rule.where else None,
            within=flow(rule.model_dump(mode="json")["within"]) if rule.within else None,
            decay=decay,
            limit=rule.limit,
            once=rule.once,
            description=rule.description,
        )
    return RuleView(
        id=rule.id,
        points=rule.points,
        kind="condition",
        trigger=flow(rule.when),
        where=None,
        within=None,
        decay=None,
        limit=None,
        once=False,
        description=rule.description,
    )


def model_view(model: ScoringModel) -> ModelView:
    dims = []
    for name in model.dimension_names():
        spec = model.dimension_spec(name)
        pred = spec.predictive
        dims.append(
            DimensionView(
                name=name,
                description=spec.description,
                floor=spec.floor,
                cap=spec.cap,
                predictive=(f"trained model {pred.artifact}, scale {pred.scale:g}" if pred is not None else None),
                rules=[_rule(r) for r in model.rules if model.dimension_of(r) == name],
            )
        )
    lc = model.lifecycle
    transitions = []
    for tr in lc.transitions if lc else []:
        transitions.append(
            {
                "to": tr.to,
                "from": ", ".join(tr.from_) if tr.from_ else "any stage",
                "on": ", ".join(tr.on) if tr.on else None,
                "when": flow(tr.when) if tr.when is not None else None,
            }
        )
    return ModelView(
        name=model.name,
        description=model.description,
        dimensions=dims,
        labels=[
            (name, [(b.label, flow(b.when) if b.when is not None else None) for b in bands])
            for name, bands in model.labels.items()
        ],
        stages=list(lc.stages) if lc else [],
        exits=list(lc.exits) if lc else [],
        initial=lc.initial_stage if lc else None,
        transitions=transitions,
        playbooks=[
            {
                "name": p.name,
                "priority": p.priority,
                "when": flow(p.when) if p.when is not None else "always",
                "action": p.action,
                "content": list(p.content),
            }
            for p in model.playbooks
        ],
        triggers=[
            {
                "id": t.id,
                "on": t.on,
                "to": t.to,
                "destination": t.destination,
                "description": t.description,
                "detail": flow(
                    t.model_dump(
                        mode="json",
                        exclude_defaults=True,
                        exclude_none=True,
                        by_alias=True,
                        exclude={"id", "on", "to", "destination", "description"},
                    )
                ),
            }
            for t in model.triggers
        ],
    )


class DiffLine(BaseModel):
    kind: str  # "add", "del", "same", "hunk"
    text: str


def diff_sources(old: str, new: str, old_name: str, new_name: str) -> list[DiffLine]:
    out = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, n=3, lineterm=""):
        if line.startswith(("+++", "---")):
            continue
        kind = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else "same"
        )
        out.append(DiffLine(kind=kind, text=line))
    return out
