"""Clamped dimensions landing exactly on label thresholds, with hand-computed results.

The points are chosen so that sums carry rounding errors: 15.6 + 27.8 + 25.5 plus the cap
adjustment (40 minus their rounded sum) add up to 39.99999999999999, not 40; -3.4 - 4.1 + 0.5 plus
the floor adjustment to 4.4e-16, not 0; and adding every entry of lead "both" in order (rules, then
adjustments, as plain SQL `+` does) gives 39.99999999999999 again. MODEL-FORMAT.md: a clamped
dimension's value is the bound itself, so `gte: 40` holds and `gt: 0` does not. Every engine is
checked against the numbers written here, by hand, not against another engine.
"""

from __future__ import annotations

from typing import Any

from leadscore.domain import Event, Lead

AT = "2026-06-01T00:00:00Z"

MODEL = """
format: 1
name: thresholds
dimensions:
  engagement: {cap: 40}
  mood: {floor: 0}
rules:
  - {id: a, dimension: engagement, on: a, points: 15.6}
  - {id: b, dimension: engagement, on: b, points: 27.8}
  - {id: c, dimension: engagement, on: c, points: 25.5}
  - {id: x, dimension: mood, on: x, points: -3.4}
  - {id: y, dimension: mood, on: y, points: -4.1}
  - {id: z, dimension: mood, on: z, points: 0.5}
labels:
  reach:
    - {label: full, when: {score: engagement, gte: 40}}
    - {label: partial}
  segment:
    - {label: engaged, when: {score: mood, gt: 0}}
    - {label: neutral, when: {score: mood, eq: 0}}
    - {label: not-engaged}
  overall:
    - {label: forty, when: {score: total, eq: 40}}
    - {label: other}
"""

LEADS = [Lead("capped"), Lead("floored"), Lead("both")]


def events() -> list[Event]:
    out: list[Event] = []
    for lead, types in (("capped", "abc"), ("floored", "xyz"), ("both", "abcxyz")):
        out += [Event.of(lead, t, "2026-05-01T00:00:00Z", id=f"{lead}-{t}") for t in types]
    return out


# lead -> (total, dimensions, labels); floats compared with ==
EXPECTED: dict[str, tuple[float, dict[str, float], dict[str, Any]]] = {
    "capped": (40.0, {"engagement": 40.0, "mood": 0.0}, {"reach": "full", "segment": "neutral", "overall": "forty"}),
    "floored": (0.0, {"engagement": 0.0, "mood": 0.0}, {"reach": "partial", "segment": "neutral", "overall": "other"}),
    "both": (40.0, {"engagement": 40.0, "mood": 0.0}, {"reach": "full", "segment": "neutral", "overall": "forty"}),
}

# lead -> the clamp entries of its breakdown (rule, points), the adjustment that brings the sum to the bound
ADJUSTMENTS: dict[str, dict[str, float]] = {
    "capped": {"cap:engagement": 40.0 - (15.6 + 27.8 + 25.5)},
    "floored": {"floor:mood": 0.0 - (-3.4 - 4.1 + 0.5)},
    "both": {"cap:engagement": 40.0 - (15.6 + 27.8 + 25.5), "floor:mood": 0.0 - (-3.4 - 4.1 + 0.5)},
}


def check(result: dict[str, Any]) -> None:
    """One engine's result (in `Result.to_dict()` shape) against the hand-computed numbers."""
    lead = result["lead_id"]
    total, dims, labels = EXPECTED[lead]
    assert result["score"] == total, (lead, result["score"])
    assert {k: float(v) for k, v in result["dimensions"].items()} == dims, (lead, result["dimensions"])
    assert dict(result["labels"]) == labels, (lead, result["labels"])
    clamps = {e["rule"]: e["points"] for e in result["breakdown"] if ":" in e["rule"]}
    assert set(clamps) == set(ADJUSTMENTS[lead]), (lead, result["breakdown"])
    for rule, points in clamps.items():
        assert abs(points - ADJUSTMENTS[lead][rule]) <= 1e-12, (lead, rule, points)
    # the breakdown adds up to the score within rounding (MODEL-FORMAT.md: relative 1e-12)
    added = sum(float(e["points"]) for e in result["breakdown"])
    assert abs(added - total) <= 1e-12 * max(1.0, abs(total)), (lead, added)


def check_all(results: list[dict[str, Any]]) -> None:
    assert sorted(r["lead_id"] for r in results) == sorted(EXPECTED)
    for r in results:
        check(r)


# The same dimensions driving a lifecycle: the automatic transitions compare the clamped value at
# each event's time (engagement reaches its cap of 40 with the third event; mood is floored at 0).
LIFECYCLE_MODEL = (
    MODEL
    + """
lifecycle:
  stages: [lead, mql, engaged]
  transitions:
    - {to: engaged, when: {score: mood, gt: 0}}
    - {to: mql, when: {score: engagement, gte: 40}}
"""
)

# lead -> stage: "capped" and "both" reach mql exactly at the cap; nobody is ever "engaged"
STAGES = {"capped": "mql", "floored": "lead", "both": "mql"}


def lifecycle_events() -> list[Event]:
    """The events of `events()` one day apart, so the replay passes through each partial sum."""
    out: list[Event] = []
    for lead, types in (("capped", "abc"), ("floored", "xyz"), ("both", "abcxyz")):
        out += [Event.of(lead, t, f"2026-05-0{i + 1}T00:00:00Z", id=f"{lead}-{t}") for i, t in enumerate(types)]
    return out
