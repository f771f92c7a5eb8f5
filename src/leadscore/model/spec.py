"""The scoring model, format 1 (MODEL-FORMAT.md), as pydantic classes that refuse unknown keys.

Structural errors are found here; cross-references (dimensions, stages, label sets, cycles) are
checked in `leadscore.model.checks` so that all of them are reported at once with their paths.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator

from leadscore.domain.numbers import check_number
from leadscore.model.conditions import ConditionField, EventTypes, Where, _as_type_list
from leadscore.model.durations import DurationField
from leadscore.model.limits import MAX_RULES
from leadscore.model.predicates import Predicate, Strict

Name = Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9-_]+$")]
# Points, floors, caps, limits and scales: finite and within +-2**53 (`domain.numbers`), so that no
# sum of them can leave the range of a double in any engine (YAML `.inf` / `.nan` are refused).
Number = Annotated[float, AfterValidator(check_number)]


class Predictive(Strict):
    """A dimension filled by a trained model: its probability times `scale` (an addition to format 1)."""

    artifact: str = Field(min_length=1, description="path of a trained artifact, relative to the model file")
    scale: Number = Field(default=100.0, gt=0)
    factors: int = Field(default=3, ge=0, le=20, description="top positive and negative factors to report")


class Dimension(Strict):
    predictive: Predictive | None = None
    floor: Number | None = None
    cap: Number | None = None
    description: str | None = None
    rollup: Literal["sum", "max", "mean"] | None = Field(
        default=None, description="how an account's value of this dimension is rolled up from its leads"
    )

    @model_validator(mode="after")
    def _floor_below_cap(self) -> Dimension:
        if self.floor is not None and self.cap is not None and self.floor > self.cap:
            raise ValueError(f"floor ({self.floor}) is above cap ({self.cap})")
        return self


class HalfLife(Strict):
    half_life: DurationField


class Linear(Strict):
    linear: DurationField


def _decay_kind(value: Any) -> str | None:
    if isinstance(value, HalfLife | Linear):
        return "half_life" if isinstance(value, HalfLife) else "linear"
    if isinstance(value, dict) and len({"half_life", "linear"} & set(value)) == 1:
        return "half_life" if "half_life" in value else "linear"
    return None


# tagged by its key, so an error in `half_life:` is reported once, not also as "missing `linear`"
Decay = Annotated[
    Union[Annotated[HalfLife, Tag("half_life")], Annotated[Linear, Tag("linear")]],  # noqa: UP007
    Discriminator(
        _decay_kind,
        custom_error_type="decay_kind",
        custom_error_message="a decay needs exactly one of `half_life:` or `linear:` (a duration)",
    ),
]


class _RuleBase(Strict):
    id: RuleId
    points: Number
    dimension: str | None = None
    description: str | None = None

    @field_validator("points", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {value!r}")
        return value


class EventRule(_RuleBase):
    """Earns `points` for each matching event (filter -> window -> once -> decay -> sum -> limit)."""

    on: EventTypes
    where: Where = {}
    within: DurationField | None = None
    limit: Annotated[Number, Field(gt=0)] | None = None
    once: bool = False
    decay: Decay | None = None


class ConditionRule(_RuleBase):
    """Earns `points` once when its condition holds at the evaluation time."""

    when: ConditionField


def _rule_kind(value: Any) -> str | None:
    if isinstance(value, EventRule):
        return "event"
    if isinstance(value, ConditionRule):
        return "condition"
    if isinstance(value, dict):
        if "on" in value and "when" in value:
            return None
        if "on" in value:
            return "event"
        if "when" in value:
            return "condition"
    return None


Rule = Annotated[
    Union[Annotated[EventRule, Tag("event")], Annotated[ConditionRule, Tag("condition")]],  # noqa: UP007
    Discriminator(
        _rule_kind,
        custom_error_type="rule_kind",
        custom_error_message="a rule needs exactly one of `on:` (an event rule) or `when:` (a condition rule)",
    ),
]


class LabelBand(Strict):
    label: str = Field(min_length=1)
    when: ConditionField | None = None


def _as_stage_list(value: Any) -> Any:
    return _as_type_list(value)


StageRefs = Annotated[tuple[str, ...], BeforeValidator(_as_stage_list, json_schema_input_type=str | list[str])]


class Transition(Strict):
    to: str
    from_: StageRefs | None = Field(default=None, alias="from")
    on: EventTypes | None = None
    when: ConditionField | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> Transition:
        if (self.on is None) == (self.when is None):
            raise ValueError("a transition needs exactly one of `on:` (an event moves the lead) or `when:` (automatic)")
        return self


class Lifecycle(Strict):
    stages: list[str] = Field(min_length=1, description="the success path, in order")
    exits: list[str] = []
    initial: str | None = None
    transitions: list[Transition] = []

    @property
    def initial_stage(self) -> str:
        return self.initial or self.stages[0]

    def all_stages(self) -> list[str]:
        return [*self.stages, *self.exits]


class Playbook(Strict):
    name: str | None = None
    when: ConditionField | None = None
    priority: Annotated[int, Field(ge=1)] | None = None
    action: str
    content: list[str] = []


class Trigger(Strict):
    id: RuleId
    on: Literal["stage_changed", "label_changed", "score_changed"]
    to: str | None = None
    from_: StageRefs | None = Field(default=None, alias="from")
    set: str | None = None
    by: Predicate | None = None
    within: DurationField | None = None
    destination: str | None = None
    description: str | None = None
    when: ConditionField | None = Field(
        default=None,
        description="fire only if this also holds for the new result (score, label, stage and attribute conditions)",
    )

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Trigger:
        if self.on == "label_changed" and self.set is None:
            raise ValueError("a label_changed trigger needs `set:` (the label set to watch)")
        if self.on == "score_changed" and (self.by is None or self.within is None):
            raise ValueError("a score_changed trigger needs `by:` (a predicate) and `within:` (a duration)")
        if self.on != "label_changed" and self.set is not None:
            raise ValueError("`set:` only applies to label_changed triggers")
        if self.on != "score_changed" and (self.by is not None or self.within is not None):
            raise ValueError("`by:` and `within:` only apply to score_changed triggers")
        if self.on != "stage_changed" and self.from_ is not None:
            raise ValueError("`from:` only applies to stage_changed triggers")
        return self


class ScoringModel(Strict):
    """A whole model file. Build with `leadscore.model.load_model` to get readable errors."""

    format: Literal[1]
    name: Name
    description: str | None = None
    dimensions: dict[str, Dimension] | None = None
    rules: list[Rule] = Field(min_length=1, max_length=MAX_RULES)
    labels: dict[str, list[LabelBand]] = {}
    lifecycle: Lifecycle | None = None
    playbooks: list[Playbook] = []
    triggers: list[Trigger] = []

    def dimension_names(self) -> list[str]:
        return list(self.dimensions) if self.dimensions else ["score"]

    def dimension_of(self, rule: EventRule | ConditionRule) -> str:
        return rule.dimension or "score"

    def predictive_dimensions(self) -> dict[str, Predictive]:
        """Dimensions filled by a trained model, by name (empty for a rules-only model)."""
        return {name: d.predictive for name, d in (self.dimensions or {}).items() if d.predictive is not None}

    def dimension_spec(self, name: str) -> Dimension:
        if self.dimensions and name in self.dimensions:
            return self.dimensions[name]
        return Dimension()


RuleModel = EventRule | ConditionRule
