"""Point-in-time features of a lead: what was known about it at time T, and nothing later.

The same features are computed two ways that must agree: here, one lead at a time from its timeline
(the real-time path and the reference), and in DuckDB for whole populations of snapshots
(`leadscore.predictive.snapshots`). Both only look at events with ts <= T, which the leakage tests
check by adding future events and seeing nothing move.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from leadscore.domain.events import Event
from leadscore.engine.timeline import Timeline
from leadscore.engine.values import is_number

DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a model uses; stored in the artifact so prediction rebuilds them identically."""

    event_types: tuple[str, ...]
    windows_days: tuple[int, ...] = (7, 30, 90, 365)
    amount_property: str = "amount"
    amount_types: tuple[str, ...] = ()
    numeric_attributes: tuple[str, ...] = ()
    categorical_attributes: tuple[str, ...] = ()
    outcome_type: str = "deal_won"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        tuples = ("event_types", "windows_days", "amount_types", "numeric_attributes", "categorical_attributes")
        args: dict[str, Any] = {k: tuple(v) if k in tuples else v for k, v in data.items()}
        return cls(**args)

    def columns(self) -> list[str]:
        cols = ["n_events_all", "n_events_30d", "days_since_first_event", "days_since_last_event"]
        for t in self.event_types:
            cols += [f"n_{t}_{w}d" for w in self.windows_days]
            cols += [f"n_{t}_all", f"days_since_{t}"]
        if self.amount_types:
            cols += [f"{self.amount_property}_{w}d" for w in self.windows_days] + [f"{self.amount_property}_all"]
        cols += [f"attr_{a}" for a in self.numeric_attributes]
        cols += [f"attr_{a}" for a in self.categorical_attributes]
        return cols

    def categorical_columns(self) -> list[str]:
        return [f"attr_{a}" for a in self.categorical_attributes]


def features_at(
    spec: FeatureSpec, attributes: Mapping[str, Any], events: Iterable[Event] | Timeline, at_us: int
) -> dict[str, Any]:
    """One row of features for a lead at `at_us` (epoch micros). Events after T are ignored."""
    timeline = events if isinstance(events, Timeline) else Timeline(events, until=at_us)
    return _features(spec, attributes, timeline, at_us)


def _features(spec: FeatureSpec, attributes: Mapping[str, Any], tl: Timeline, at: int) -> dict[str, Any]:
    nan = math.nan
    past = [e for e in tl.events if e.ts <= at]
    row: dict[str, Any] = {
        "n_events_all": len(past),
        "n_events_30d": sum(1 for e in past if e.ts > at - 30 * DAY_US),
        "days_since_first_event": (at - past[0].ts) / DAY_US if past else nan,
        "days_since_last_event": (at - past[-1].ts) / DAY_US if past else nan,
    }
    for t in spec.event_types:
        m = tl.matching((t,), None)
        _, hi = m.bounds(at, None)
        for w in spec.windows_days:
            lo, _ = m.bounds(at, w * DAY_US)
            row[f"n_{t}_{w}d"] = hi - lo
        row[f"n_{t}_all"] = hi
        row[f"days_since_{t}"] = (at - m.ts[hi - 1]) / DAY_US if hi else nan
    if spec.amount_types:
        prop = spec.amount_property
        amounts = [
            (e.ts, float(e.properties[prop]))
            for e in past
            if e.type in spec.amount_types and is_number(e.properties.get(prop))
        ]
        for w in spec.windows_days:
            row[f"{prop}_{w}d"] = math.fsum(a for ts, a in amounts if ts > at - w * DAY_US)
        row[f"{prop}_all"] = math.fsum(a for _, a in amounts)
    for a in spec.numeric_attributes:
        v = attributes.get(a)
        row[f"attr_{a}"] = float(v) if v is not None and is_number(v) else nan
    for a in spec.categorical_attributes:
        v = attributes.get(a)
        row[f"attr_{a}"] = None if v is None else str(v)
    return row


def infer_spec(
    type_counts: Mapping[str, int],
    attribute_samples: Iterable[Mapping[str, Any]],
    *,
    outcome_type: str,
    amount_types: Iterable[str] = (),
    max_types: int = 30,
    exclude_attributes: Iterable[str] = (),
    max_categories: int = 50,
) -> FeatureSpec:
    """Choose features from what the data holds: frequent event types (not the outcome itself) and
    attributes that are numbers or low-cardinality text (ids, e-mails and free text are left out)."""
    types = [t for t, _ in sorted(type_counts.items(), key=lambda kv: (-kv[1], kv[0])) if t != outcome_type][:max_types]
    excluded = set(exclude_attributes) | {"id", "lead_id", "email", "stage", "created_at"}
    numeric: dict[str, int] = {}
    values: dict[str, set[str]] = {}
    seen = 0
    for attrs in attribute_samples:
        seen += 1
        for k, v in attrs.items():
            if k in excluded or v is None:
                continue
            if is_number(v):
                numeric[k] = numeric.get(k, 0) + 1
            else:
                values.setdefault(k, set()).add(str(v))
    cats = [k for k, vs in values.items() if k not in numeric and 1 < len(vs) <= max_categories]
    nums = [k for k in numeric if k not in values]
    return FeatureSpec(
        event_types=tuple(sorted(types)),
        amount_types=tuple(sorted(amount_types)),
        numeric_attributes=tuple(sorted(nums)),
        categorical_attributes=tuple(sorted(cats)),
        outcome_type=outcome_type,
        extra={"attribute_rows_seen": seen},
    )
