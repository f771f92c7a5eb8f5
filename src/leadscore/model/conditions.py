"""Conditions: attribute tests, event counts and aggregates, absence, recency, scores, labels, stages, logic.

A condition is a mapping whose distinguishing key says what it is (`attribute:`, `count:`, `none:`...). The
mapping is parsed into one of the classes below through a discriminator, so that an error names the kind
of condition the author meant instead of listing every alternative.

`Condition`, at the end, is the registry of kinds: the one list of them. The parser is built from it,
and every engine dispatches on it with a `match` that ends in `assert_never`, so that mypy names each
handler a new kind still lacks (docs/architecture.md, "Adding a condition kind").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Union, get_args

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from leadscore.model.durations import Duration, DurationField
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


class ConditionBase(Strict):
    """What every kind declares: its tag (`KIND`) and the keys that announce it in a mapping (`KEYS`)."""

    KIND: ClassVar[str]
    KEYS: ClassVar[tuple[str, ...]]

    def children(self) -> tuple[tuple[str, Condition], ...]:
        """Nested conditions, each with its key (`all[0]`, `not`): only the boolean kinds have any."""
        return ()


class _NeedsPredicate(PredicateFields):
    @model_validator(mode="after")
    def _has_predicate(self) -> Any:
        if not self.has_predicate():
            raise ValueError(
                "this condition needs a predicate (eq, ne, in, not_in, gt, gte, lt, lte, between, "
                "contains, matches or exists)"
            )
        return self


class EventCondition(ConditionBase):
    """The shared base of the conditions on a lead's events: the event types (under the kind's own key,
    `TYPES_KEY`), the `where:` filter, and the window they are read through. Engines read them here."""

    TYPES_KEY: ClassVar[str]
    where: Where = {}

    @property
    def types(self) -> tuple[str, ...]:
        types: tuple[str, ...] = getattr(self, self.TYPES_KEY)
        return types

    @property
    def window(self) -> Duration | None:
        """How far back before T the condition reads matching events (None: all of them)."""
        return None

    def time_bounds(self) -> tuple[tuple[Duration, bool], ...]:
        """Durations D after which time alone can change the condition: an event leaves the window at
        ts + D; with True, D runs from the latest matching event only (a `last:` bound)."""
        return ()

    def properties_read(self) -> tuple[str, ...]:
        """The event properties the condition looks at."""
        return tuple(self.where)


class WindowedEventCondition(EventCondition):
    """An event condition over the events of the window T - within < ts <= T (all of them without)."""

    within: DurationField | None = None

    @property
    def window(self) -> Duration | None:
        return self.within

    def time_bounds(self) -> tuple[tuple[Duration, bool], ...]:
        return () if self.within is None else ((self.within, False),)


class AttributeCondition(ConditionBase, _NeedsPredicate):
    KIND = "attribute"
    KEYS = ("attribute",)

    attribute: str = Field(min_length=1)


class CountCondition(WindowedEventCondition, _NeedsPredicate):
    KIND = "count"
    KEYS = ("count",)
    TYPES_KEY = "count"

    count: EventTypes


AGGREGATES = ("sum", "min", "max", "avg")


class AggregateCondition(WindowedEventCondition, _NeedsPredicate):
    """`{sum: amount, of: purchase, within: 365d, gt: 250}`; exactly one of sum/min/max/avg."""

    KIND = "aggregate"
    KEYS = AGGREGATES
    TYPES_KEY = "of"

    sum: str | None = None
    min: str | None = None
    max: str | None = None
    avg: str | None = None
    of: EventTypes

    @model_validator(mode="after")
    def _one_aggregate(self) -> AggregateCondition:
        given = [a for a in AGGREGATES if getattr(self, a) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of sum, min, max, avg (the numeric property to aggregate)")
        return self

    def properties_read(self) -> tuple[str, ...]:
        return (*self.where, self.property)

    @property
    def function(self) -> str:
        return next(a for a in AGGREGATES if getattr(self, a) is not None)

    # defined last: below this line, `property` in the class body is this method, not the builtin
    @property
    def property(self) -> str:
        return str(getattr(self, self.function))


class NoneCondition(WindowedEventCondition):
    KIND = "none"
    KEYS = ("none",)
    TYPES_KEY = "none"

    none: EventTypes


class LastCondition(EventCondition):
    KIND = "last"
    KEYS = ("last",)
    TYPES_KEY = "last"

    last: EventTypes
    older_than: DurationField | None = None
    newer_than: DurationField | None = None

    @model_validator(mode="after")
    def _needs_bound(self) -> LastCondition:
        if self.older_than is None and self.newer_than is None:
            raise ValueError("a `last:` condition needs `older_than:` or `newer_than:`")
        return self

    def time_bounds(self) -> tuple[tuple[Duration, bool], ...]:
        return tuple((bound, True) for bound in (self.older_than, self.newer_than) if bound is not None)


class ScoreCondition(ConditionBase, _NeedsPredicate):
    KIND = "score"
    KEYS = ("score",)

    score: str = Field(min_length=1, description="a dimension name or `total`")


class LabelCondition(ConditionBase, _NeedsPredicate):
    KIND = "label"
    KEYS = ("label",)

    label: str = Field(min_length=1, description="a label set name")


def _stage_predicate(value: Any) -> Any:
    return normalize_filter_value(value)


class StageCondition(ConditionBase):
    KIND = "stage"
    KEYS = ("stage",)

    stage: Annotated[Predicate, BeforeValidator(_stage_predicate, json_schema_input_type=Any)]


class AllCondition(ConditionBase):
    KIND = "all"
    KEYS = ("all",)

    all: list[ConditionField] = Field(min_length=1)

    def children(self) -> tuple[tuple[str, Condition], ...]:
        return tuple((f"all[{i}]", c) for i, c in enumerate(self.all))


class AnyCondition(ConditionBase):
    KIND = "any"
    KEYS = ("any",)

    any: list[ConditionField] = Field(min_length=1)

    def children(self) -> tuple[tuple[str, Condition], ...]:
        return tuple((f"any[{i}]", c) for i, c in enumerate(self.any))


class NotCondition(ConditionBase):
    KIND = "not"
    KEYS = ("not",)

    not_: ConditionField = Field(alias="not")

    def children(self) -> tuple[tuple[str, Condition], ...]:
        return (("not", self.not_),)


# The registry: every kind of condition, once. The parser below is built from it, and each engine's
# handler is a `match` over it ending in `assert_never`: mypy reports a kind a handler misses.
Condition = (
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

CONDITION_KINDS: tuple[type[ConditionBase], ...] = get_args(Condition)
_KIND_OF_KEY = {key: cls.KIND for cls in CONDITION_KINDS for key in cls.KEYS}


def _kind(value: Any) -> str | None:
    if isinstance(value, ConditionBase):
        return value.KIND
    if isinstance(value, dict):
        for key in value:
            if key in _KIND_OF_KEY:
                return _KIND_OF_KEY[key]
    return None


if TYPE_CHECKING:
    ConditionField = Condition
else:
    # A field holding a condition: the mapping is parsed by its distinguishing key, so that an error
    # names the kind meant (pydantic needs each choice of a callable discriminator tagged).
    ConditionField = Annotated[
        Union[tuple(Annotated[cls, Tag(cls.KIND)] for cls in CONDITION_KINDS)],  # noqa: UP007
        Discriminator(
            _kind,
            custom_error_type="condition_kind",
            custom_error_message=f"a condition needs one of the keys {', '.join(_KIND_OF_KEY)}",
        ),
    ]

for _cls in (AllCondition, AnyCondition, NotCondition):
    _cls.model_rebuild()
