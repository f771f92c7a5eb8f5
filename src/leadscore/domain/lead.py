"""A lead: an id and its current attributes (explicit data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Lead:
    """`attributes` holds only present values: a missing attribute is absent, never None."""

    id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, lead_id: str, **attributes: Any) -> Lead:
        return cls(lead_id, {k: v for k, v in attributes.items() if v is not None})
