"""Conditions: attribute tests, event counts and aggregates, absence, recency, scores, labels, stages, logic.

A condition is a mapping whose distinguishing key says what it is (`attribute:`, `count:`, `none:`...). The
mapping is parsed into one of the classes below through a discriminator, so that an error names the kind
of condition the author meant instead of listing every alternative.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from leadscore.model.durations import DurationField
from leadscore.model.predicates import Predicate, PredicateFields, Strict, normalize_filter_value


def _as_type_list(value: Any) -> Any:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(value)
    return value


# An event type or a list of types, kept as a tuple so that `on: x` and `on: [x]` hash the same.
EventTypes = Annotated[
    tuple[Annotated[str, Field(min_length=1)], ...],
    BeforeValidator(_as_type_list, json_schema_input_type=str | list[str]),
    Field(min_length=1),
]

FilterValue = Annotated[
    Predicate,
    BeforeValidator(normalize_filter_value, json_schema_input_type=Any),
]
Where = dict[str, FilterValue]


class _NeedsPredicate(PredicateFields):
    @model_validator(mode="after")
    def _has_predicate(self) -> Any:
        if not self.has_predicate():
            raise ValueError(
                "this condition needs a predicate (eq, ne, in, not_in, gt, gte, lt, lte, between, "
                "contains, matches or exists)"
            )
        return self


class AttributeCondition(_NeedsPredicate):
    attribute: str = Field(min_length=1)


class CountCondition(_NeedsPredicate):
    count: EventTypes
    where: Where = {}
    within: DurationField | None = None


AGGREGATES = ("sum", "min", "max", "avg")


class AggregateCondition(_NeedsPredicate):
    """`{sum: amount, of: purchase, within: 365d, gt: 250}`; exactly one of sum/min/max/avg."""

    sum: str | None = None
    min: str | None = None
    max: str | None = None
    avg: str | None = None
    of: EventTypes
    where: Where = {}
    within: DurationField | None = None

    @model_validator(mode="after")
    def _one_aggregate(self) -> AggregateCondition:
        given = [a for a in AGGREGATES if getattr(self, a) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of sum, min, max, avg (the numeric property to aggregate)")
        return self

    @property
    def function(self) -> str:
        return next(a for a in AGGREGATES if getattr(self, a) is not None)

    @property
    def property(self) -> str:
        return str(getattr(self, self.function))


class NoneCondition(Strict):
    none: EventTypes
    where: Where = {}
    within: DurationField | None = None


class LastCondition(Strict):
    last: EventTypes
    where: Where = {}
    older_than: DurationField | None = None
    newer_than: DurationField | None = None

    @model_validator(mode="after")
    def _needs_bound(self) -> LastCondition:
        if self.older_than is None and self.newer_than is None:
            raise ValueError("a `last:` condition needs `older_than:` or `newer_than:`")
        return self


class ScoreCondition(_NeedsPredicate):
    score: str = Field(min_length=1, description="a dimension name or `total`")


class LabelCondition(_NeedsPredicate):
    label: str = Field(min_length=1, description="a label set name")


def _stage_predicate(value: Any) -> Any:
    return normalize_filter_value(value)


class StageCondition(Strict):
    stage: Annotated[Predicate, BeforeValidator(_stage_predicate, json_schema_input_type=Any)]


class AllCondition(Strict):
    all: list[Condition] = Field(min_length=1)


class AnyCondition(Strict):
    any: list[Condition] = Field(min_length=1)


class NotCondition(Strict):
    not_: Condition = Field(alias="not")


_KINDS = {
    "attribute": "attribute",
    "count": "count",
    "sum": "aggregate",
    "min": "aggregate",
    "max": "aggregate",
    "avg": "aggregate",
    "none": "none",
    "last": "last",
    "score": "score",
    "label": "label",
    "stage": "stage",
    "all": "all",
    "any": "any",
    "not": "not",
}
_CLASS_KINDS: dict[type[BaseModel], str] = {}


def _kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return _CLASS_KINDS.get(type(value))
    if isinstance(value, dict):
        for key in value:
            if key in _KINDS:
                return _KINDS[key]
    return None


Condition = Annotated[
    Union[  # noqa: UP007 - Tag annotations need the Union form
        Annotated[AttributeCondition, Tag("attribute")],
        Annotated[CountCondition, Tag("count")],
        Annotated[AggregateCondition, Tag("aggregate")],
        Annotated[NoneCondition, Tag("none")],
        Annotated[LastCondition, Tag("last")],
        Annotated[ScoreCondition, Tag("score")],
        Annotated[LabelCondition, Tag("label")],
        Annotated[StageCondition, Tag("stage")],
        Annotated[AllCondition, Tag("all")],
        Annotated[AnyCondition, Tag("any")],
        Annotated[NotCondition, Tag("not")],
    ],
    Discriminator(
        _kind,
        custom_error_type="condition_kind",
        custom_error_message=(
            "a condition needs one of the keys attribute, count, sum, min, max, avg, none, last, "
            "score, label, stage, all, any, not"
        ),
    ),
]

_CLASS_KINDS.update(
    {
        AttributeCondition: "attribute",
        CountCondition: "count",
        AggregateCondition: "aggregate",
        NoneCondition: "none",
        LastCondition: "last",
        ScoreCondition: "score",
        LabelCondition: "label",
        StageCondition: "stage",
        AllCondition: "all",
        AnyCondition: "any",
        NotCondition: "not",
    }
)

AnyConditionModel = (
    AttributeCondition
    | CountCondition
    | AggregateCondition
    | NoneCondition
    | LastCondition
    | ScoreCondition
    | LabelCondition
    | StageCondition
    | AllCondition
    | AnyCondition
    | NotCondition
)

for _cls in (AllCondition, AnyCondition, NotCondition):
    _cls.model_rebuild()

ConditionKind = Literal[
    "attribute", "count", "aggregate", "none", "last", "score", "label", "stage", "all", "any", "not"
]


def children(cond: AnyConditionModel) -> list[AnyConditionModel]:
    """Sub-conditions of a boolean condition, for walks over the condition tree."""
    if isinstance(cond, AllCondition):
        return list(cond.all)
    if isinstance(cond, AnyCondition):
        return list(cond.any)
    if isinstance(cond, NotCondition):
        return [cond.not_]
    return []
