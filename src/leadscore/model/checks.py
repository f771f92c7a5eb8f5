"""Cross-reference checks that pydantic cannot do field by field.

Each check yields `(path, message)` with a path in the file's terms (`rules[3].dimension`), which the
loader turns into line numbers. All problems are reported together.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import assert_never

from leadscore.model.conditions import (
    AllCondition,
    AnyCondition,
    AttributeCondition,
    Condition,
    EventCondition,
    LabelCondition,
    NotCondition,
    ScoreCondition,
    StageCondition,
)
from leadscore.model.spec import Lifecycle, ScoringModel
from leadscore.model.walk import Section, places

Found = Iterator[tuple[str, str]]

# Which condition kinds each section may use (MODEL-FORMAT.md "Conditions").
_SCORE_OK = {"labels", "lifecycle", "playbooks", "triggers"}
_LABEL_STAGE_OK = {"playbooks", "triggers"}


def check_model(model: ScoringModel) -> list[tuple[str, str]]:
    return [
        *_dimensions(model),
        *_rules(model),
        *_conditions(model),
        *_lifecycle(model),
        *_triggers(model),
    ]


def _dimensions(model: ScoringModel) -> Found:
    for name in model.dimensions or {}:
        if name == "total":
            yield f"dimensions.{name}", "a dimension may not be called `total` (it names the sum of all dimensions)"


def _rules(model: ScoringModel) -> Found:
    seen: dict[str, int] = {}
    names = set(model.dimensions or {})
    for i, rule in enumerate(model.rules):
        if rule.id in seen:
            yield f"rules[{i}].id", f"duplicate rule id {rule.id!r} (first at rules[{seen[rule.id]}])"
        seen.setdefault(rule.id, i)
        if model.dimensions:
            if rule.dimension is None:
                yield (
                    f"rules[{i}]",
                    f"the model declares dimensions, so rule {rule.id!r} needs `dimension:` ({_list(names)})",
                )
            elif rule.dimension not in names:
                yield f"rules[{i}].dimension", f"unknown dimension {rule.dimension!r}; expected one of {_list(names)}"
            elif model.dimensions[rule.dimension].predictive is not None:
                yield (
                    f"rules[{i}].dimension",
                    f"dimension {rule.dimension!r} is predictive (filled by a trained model); rules cannot add to it",
                )
        elif rule.dimension not in (None, "score"):
            yield (
                f"rules[{i}].dimension",
                f"unknown dimension {rule.dimension!r}: the model declares no dimensions "
                "(use `score` or declare `dimensions:`)",
            )


def _conditions(model: ScoringModel) -> Found:
    dims = {*model.dimension_names(), "total"}
    stages = set(model.lifecycle.all_stages()) if model.lifecycle else set()
    for place in places(model, triggers=True):
        yield from _condition(model, place.section, place.condition, place.path, dims, stages)


def _condition(
    model: ScoringModel, section: Section, cond: Condition, path: str, dims: set[str], stages: set[str]
) -> Found:
    """Where a kind may appear and what it names (each nested condition is checked on its own)."""
    match cond:
        case EventCondition():
            if section == "triggers":
                yield path, "a trigger's `when:` looks at the new result and the lead's attributes, not at events"
        case ScoreCondition():
            if section not in _SCORE_OK:
                yield path, "a `score:` condition is not allowed in rules (a rule cannot depend on the score)"
            elif cond.score not in dims:
                yield f"{path}.score", f"unknown dimension {cond.score!r}; expected one of {_list(dims)}"
        case LabelCondition():
            if section not in _LABEL_STAGE_OK:
                yield path, "a `label:` condition is only allowed in playbooks and triggers"
            elif cond.label not in model.labels:
                yield f"{path}.label", f"unknown label set {cond.label!r}; expected one of {_list(model.labels)}"
        case StageCondition():
            if section not in _LABEL_STAGE_OK:
                yield path, "a `stage:` condition is only allowed in playbooks and triggers"
            elif not model.lifecycle:
                yield path, "a `stage:` condition needs a `lifecycle:` section"
            else:
                for key, value in cond.stage.predicate_items():
                    for v in value if isinstance(value, list | tuple) else [value]:
                        if key in ("eq", "ne", "in", "not_in") and v not in stages:
                            yield f"{path}.stage", f"unknown stage {v!r}; expected one of {_list(stages)}"
        case AttributeCondition() | AllCondition() | AnyCondition() | NotCondition():
            pass  # allowed in every section
        case _:
            assert_never(cond)


def _lifecycle(model: ScoringModel) -> Found:
    lc = model.lifecycle
    if lc is None:
        return
    names = lc.all_stages()
    dupes = {s for s in names if names.count(s) > 1}
    for s in sorted(dupes):
        yield "lifecycle", f"stage {s!r} is declared more than once"
    known = set(names)
    if lc.initial is not None and lc.initial not in known:
        yield "lifecycle.initial", f"unknown stage {lc.initial!r}; expected one of {_list(known)}"
    for i, tr in enumerate(lc.transitions):
        if tr.to not in known:
            yield f"lifecycle.transitions[{i}].to", f"unknown stage {tr.to!r}; expected one of {_list(known)}"
        for s in tr.from_ or ():
            if s not in known:
                yield f"lifecycle.transitions[{i}].from", f"unknown stage {s!r}; expected one of {_list(known)}"
        if tr.when is not None and tr.to in known:
            for s in tr.from_ or ():
                if s in lc.stages and tr.to in lc.stages and lc.stages.index(tr.to) <= lc.stages.index(s):
                    yield (
                        f"lifecycle.transitions[{i}]",
                        f"automatic transitions move forward only: {s!r} -> {tr.to!r} goes back "
                        "(use an event transition with `on:` to move a lead back)",
                    )
    if not dupes:
        cycle = find_cycle(lc)
        if cycle:
            yield "lifecycle.transitions", "automatic transitions can cycle: " + " -> ".join(cycle)


def auto_sources(lc: Lifecycle, to: str, from_: tuple[str, ...] | None) -> list[str]:
    """Stages an automatic transition can leave: its `from:`, or every earlier path stage.

    Without `from:`, an automatic transition never leaves an exit (exits hold a lead out of
    automatic promotion) and never moves back along the path.
    """
    if from_ is not None:
        return [s for s in from_ if s != to]
    if to in lc.stages:
        return lc.stages[: lc.stages.index(to)]
    return list(lc.stages)


def find_cycle(lc: Lifecycle) -> list[str] | None:
    graph: dict[str, set[str]] = {}
    for tr in lc.transitions:
        if tr.when is None:
            continue
        for src in auto_sources(lc, tr.to, tr.from_):
            if src in lc.stages and tr.to in lc.stages and lc.stages.index(tr.to) <= lc.stages.index(src):
                continue  # reported as a backward move; would never fire
            graph.setdefault(src, set()).add(tr.to)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _triggers(model: ScoringModel) -> Found:
    stages = set(model.lifecycle.all_stages()) if model.lifecycle else set()
    seen: set[str] = set()
    for i, trig in enumerate(model.triggers):
        if trig.id in seen:
            yield f"triggers[{i}].id", f"duplicate trigger id {trig.id!r}"
        seen.add(trig.id)
        if trig.on == "stage_changed":
            if not model.lifecycle:
                yield f"triggers[{i}]", "a stage_changed trigger needs a `lifecycle:` section"
                continue
            for s in [*(trig.from_ or ()), *([trig.to] if trig.to else [])]:
                if s not in stages:
                    yield f"triggers[{i}]", f"unknown stage {s!r}; expected one of {_list(stages)}"
        elif trig.on == "label_changed":
            if trig.set not in model.labels:
                yield f"triggers[{i}].set", f"unknown label set {trig.set!r}; expected one of {_list(model.labels)}"
            elif trig.to is not None:
                allowed = {b.label for b in model.labels[trig.set]}
                if trig.to not in allowed:
                    yield (
                        f"triggers[{i}].to",
                        f"label set {trig.set!r} has no label {trig.to!r}; expected one of {_list(allowed)}",
                    )


def _list(names: object) -> str:
    items = sorted(str(n) for n in names)  # type: ignore[attr-defined]
    return ", ".join(items) if items else "(none declared)"
