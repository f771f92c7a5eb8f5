"""Predicates (`eq`, `gte`, `between`, `matches`...) as they appear in conditions and `where:` filters."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from leadscore.domain.numbers import check_number
from leadscore.model.regex import PatternError, compile_pattern

# a number in a predicate is finite and within the range data may hold (`domain.numbers`)
Scalar = Annotated[str | int | float | bool, Field(union_mode="smart"), AfterValidator(check_number)]

PREDICATE_KEYS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains", "matches", "exists")


class Strict(BaseModel):
    """Every section of the model file refuses unknown keys (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class PredicateFields(Strict):
    """The predicate keys. Several in one mapping must all hold."""

    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    gt: Scalar | None = None
    gte: Scalar | None = None
    lt: Scalar | None = None
    lte: Scalar | None = None
    between: tuple[Scalar, Scalar] | None = None
    contains: str | None = None
    matches: str | None = None
    exists: bool | None = None

    @field_validator("matches")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_pattern(value)
            except PatternError as exc:
                raise ValueError(str(exc)) from None
        return value

    def predicate_items(self) -> list[tuple[str, Any]]:
        """The predicates that are set, by their file names (`in`, not `in_`)."""
        out = []
        for key in PREDICATE_KEYS:
            value = getattr(self, "in_" if key == "in" else key)
            if value is not None:
                out.append((key, value))
        return out

    def has_predicate(self) -> bool:
        return bool(self.predicate_items())


class Predicate(PredicateFields):
    """A predicate mapping on its own, e.g. `{gte: 3}` in a `where:` filter or a trigger's `by:`."""

    @model_validator(mode="after")
    def _needs_one(self) -> Predicate:
        if not self.has_predicate():
            raise ValueError(f"expected at least one predicate: {', '.join(PREDICATE_KEYS)}")
        return self


def normalize_filter_value(value: Any) -> Any:
    """`where:` takes a value (meaning eq), a list (meaning in) or a predicate mapping."""
    if isinstance(value, Predicate):
        return value
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {"in": value}
    return {"eq": value}
