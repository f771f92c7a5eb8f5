"""The registry of condition kinds (`model/conditions.py`) and the one walk over a model's conditions
(`model/walk.py`): parsing is built from the registry, and each kind has its sample for the engine tests."""

from __future__ import annotations

import typing

import pytest

from leadscore.model import ModelError, parse_model
from leadscore.model.conditions import (
    CONDITION_KINDS,
    AggregateCondition,
    Condition,
    CountCondition,
    EventCondition,
    LastCondition,
    NoneCondition,
)
from leadscore.model.walk import conditions, places
from tests.support.condition_kinds import SAMPLES, kinds, models_for


def test_every_kind_has_a_sample() -> None:
    """A kind added to the registry needs a sample here, which runs it through every engine."""
    assert set(SAMPLES) == set(kinds())


def test_the_registry_is_the_union_the_engines_match_on() -> None:
    assert typing.get_args(Condition) == CONDITION_KINDS
    assert len({cls.KIND for cls in CONDITION_KINDS}) == len(CONDITION_KINDS)
    keys = [key for cls in CONDITION_KINDS for key in cls.KEYS]
    assert len(keys) == len(set(keys)), "a key announces one kind only"


@pytest.mark.parametrize("kind", kinds())
def test_each_sample_parses_to_its_kind(kind: str) -> None:
    model = models_for(kind)["results"]
    (cls,) = [c for c in CONDITION_KINDS if kind == c.KIND]
    found = [c for c in conditions(model) if type(c) is cls]
    assert found, f"no {kind} condition in its model"


def test_an_unknown_kind_names_every_key_of_the_registry() -> None:
    with pytest.raises(ModelError) as err:
        parse_model("format: 1\nname: m\nrules:\n  - {id: r, points: 1, when: {colour: red}}\n")
    keys = ", ".join(key for cls in CONDITION_KINDS for key in cls.KEYS)
    assert f"a condition needs one of the keys {keys}" in str(err.value)


def test_event_conditions_share_types_where_and_window() -> None:
    model = parse_model(
        """
format: 1
name: m
rules:
  - id: r
    points: 1
    when:
      all:
        - {count: [a, b], where: {x: 1}, within: 2d, gte: 1}
        - {avg: amount, of: buy, where: {y: {gt: 2}}, lt: 10}
        - {none: c, within: 1h}
        - {last: d, older_than: 3d, newer_than: 9d}
"""
    )
    count, agg, none, last = (c for c in conditions(model) if isinstance(c, EventCondition))
    assert isinstance(count, CountCondition) and isinstance(agg, AggregateCondition)
    assert isinstance(none, NoneCondition) and isinstance(last, LastCondition)
    assert [c.types for c in (count, agg, none, last)] == [("a", "b"), ("buy",), ("c",), ("d",)]
    assert [c.window for c in (count, agg, none, last)] == [2 * 86_400, None, 3600, None]
    assert [c.properties_read() for c in (count, agg, none, last)] == [("x",), ("y", "amount"), (), ()]
    assert count.time_bounds() == ((2 * 86_400, False),)
    assert agg.time_bounds() == () and none.time_bounds() == ((3600, False),)
    assert last.time_bounds() == ((3 * 86_400, True), (9 * 86_400, True))


def test_the_walk_visits_every_section_in_file_order_with_its_path() -> None:
    model = parse_model(
        """
format: 1
name: m
rules:
  - {id: e, on: visit, points: 1}
  - {id: r, points: 1, when: {any: [{attribute: a, eq: 1}, {not: {none: visit}}]}}
labels:
  tier:
    - {label: hot, when: {score: total, gte: 5}}
    - {label: cold}
lifecycle:
  stages: [lead, mql]
  transitions:
    - {to: mql, when: {count: visit, gte: 2}}
playbooks:
  - {when: {stage: mql}, action: call}
triggers:
  - {id: t, on: stage_changed, to: mql, when: {attribute: a, eq: 1}}
"""
    )
    found = [(p.section, p.path, p.condition.KIND) for p in places(model, triggers=True)]
    assert found == [
        ("rules", "rules[1].when", "any"),
        ("rules", "rules[1].when.any[0]", "attribute"),
        ("rules", "rules[1].when.any[1]", "not"),
        ("rules", "rules[1].when.any[1].not", "none"),
        ("labels", "labels.tier[0].when", "score"),
        ("lifecycle", "lifecycle.transitions[0].when", "count"),
        ("playbooks", "playbooks[0].when", "stage"),
        ("triggers", "triggers[0].when", "attribute"),
    ]
    assert [p.section for p in places(model)][-1] == "playbooks"  # a result does not evaluate triggers
