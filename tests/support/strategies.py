"""Hypothesis strategies: random scoring models over a small vocabulary, and leads with events.

Shared by the property tests of every engine: the pure scorer's invariants, and the agreement of the
batch engines with it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from leadscore.domain import Event, Lead
from leadscore.model import ScoringModel, validate_model

TYPES = ["visit", "open", "click", "buy", "demo"]
PROPS = {"channel": ["organic", "paid", "email"], "amount": [0, 5, 20.5, 100, 250]}
START = datetime(2026, 1, 1, tzinfo=UTC)
AT = datetime(2026, 6, 1, tzinfo=UTC)
DURATIONS = ["1d", "7d", "30d", "90d", "12h", "26w", "6mo"]

types_ = st.sampled_from(TYPES)
type_ref = st.one_of(types_, st.lists(types_, min_size=1, max_size=2, unique=True))
duration = st.sampled_from(DURATIONS)
points = st.one_of(st.integers(-50, 80), st.sampled_from([0.5, 2.25, -7.5, 33.3]))


@st.composite
def where(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["channel"] = draw(
            st.one_of(
                st.sampled_from(PROPS["channel"]), st.lists(st.sampled_from(PROPS["channel"]), min_size=1, max_size=2)
            )
        )
    if draw(st.booleans()):
        out["amount"] = {draw(st.sampled_from(["gt", "gte", "lt", "lte"])): draw(st.sampled_from([0, 20, 100]))}
    return out


@st.composite
def condition(draw: st.DrawFn, depth: int = 0, scores: bool = False) -> dict[str, Any]:
    kinds = (
        ["attribute", "count", "agg", "none", "last"] + (["score"] if scores else []) + (["bool"] if depth < 2 else [])
    )
    kind = draw(st.sampled_from(kinds))
    if kind == "attribute":
        return draw(
            st.sampled_from(
                [
                    {"attribute": "employees", "between": [100, 200]},
                    {"attribute": "employees", "gte": draw(st.sampled_from([10, 500]))},
                    {"attribute": "role", "contains": "dir"},
                    {"attribute": "role", "in": ["ceo", "director"]},
                    {"attribute": "country", "exists": draw(st.booleans())},
                ]
            )
        )
    if kind == "count":
        c: dict[str, Any] = {"count": draw(type_ref), "gte": draw(st.integers(0, 4))}
    elif kind == "agg":
        c = {
            draw(st.sampled_from(["sum", "min", "max", "avg"])): "amount",
            "of": draw(type_ref),
            draw(st.sampled_from(["gt", "lt", "gte"])): draw(st.sampled_from([0, 20, 100, 250])),
        }
    elif kind == "none":
        c = {"none": draw(type_ref)}
    elif kind == "last":
        c = {"last": draw(type_ref), draw(st.sampled_from(["older_than", "newer_than"])): draw(duration)}
    elif kind == "score":
        return {"score": "total", draw(st.sampled_from(["gt", "gte", "lt"])): draw(st.sampled_from([0, 20, 60]))}
    else:
        op = draw(st.sampled_from(["all", "any", "not"]))
        if op == "not":
            return {"not": draw(condition(depth + 1, scores))}
        return {op: draw(st.lists(condition(depth + 1, scores), min_size=1, max_size=3))}
    if kind in ("count", "agg", "none") and draw(st.booleans()):
        c["within"] = draw(duration)
    w = draw(where())
    if w:
        c["where"] = w
    return c


@st.composite
def event_rule(draw: st.DrawFn, rid: str) -> dict[str, Any]:
    r: dict[str, Any] = {"id": rid, "on": draw(type_ref), "points": draw(points)}
    w = draw(where())
    if w:
        r["where"] = w
    if draw(st.booleans()):
        r["within"] = draw(duration)
    if draw(st.integers(0, 3)) == 0:
        r["limit"] = draw(st.sampled_from([1, 10, 45.5]))
    if draw(st.integers(0, 3)) == 0:
        r["once"] = True
    if draw(st.integers(0, 2)) == 0:
        r["decay"] = draw(st.sampled_from([{"half_life": d} for d in DURATIONS] + [{"linear": d} for d in DURATIONS]))
    return r


@st.composite
def models(draw: st.DrawFn, lifecycle: bool = True) -> ScoringModel:
    dims = draw(st.sampled_from([None, ["fit", "engagement"]]))
    rules = []
    for i in range(draw(st.integers(1, 6))):
        rule = (
            draw(event_rule(f"r{i}"))
            if draw(st.booleans())
            else {"id": f"r{i}", "when": draw(condition()), "points": draw(points)}
        )
        if dims:
            rule["dimension"] = draw(st.sampled_from(dims))
        rules.append(rule)
    spec: dict[str, Any] = {"format": 1, "name": "generated", "rules": rules}
    if dims:
        spec["dimensions"] = {
            d: draw(st.sampled_from([{}, {"cap": 50}, {"floor": -20}, {"floor": -10, "cap": 100}])) for d in dims
        }
    spec["labels"] = {
        "band": [
            {"label": "hot", "when": {"score": "total", "gte": draw(st.sampled_from([20, 50]))}},
            {"label": "warm", "when": draw(condition(scores=True))},
            {"label": "cold"},
        ]
    }
    if lifecycle and draw(st.booleans()):
        spec["lifecycle"] = {
            "stages": ["lead", "mql", "sql", "customer"],
            "exits": ["recycled"],
            "transitions": [
                {"to": "mql", "when": {"score": "total", "gte": draw(st.sampled_from([10, 30, 60]))}},
                {"to": "sql", "on": "demo"},
                {"to": "recycled", "on": "click", "from": ["mql", "sql"]},
                {"to": "lead", "from": "recycled", "when": draw(condition(scores=True))},
                {"to": "customer", "from": "sql", "on": "buy"},
            ],
        }
        spec["playbooks"] = [
            {"when": {"stage": {"in": ["mql", "sql"]}}, "priority": 1, "action": "call"},
            {"when": {"label": "band", "eq": "warm"}, "priority": 2, "action": "nurture"},
        ]
    else:
        spec["playbooks"] = [{"when": {"label": "band", "eq": "hot"}, "priority": 1, "action": "call"}]
    return validate_model(spec)


@st.composite
def events_for(draw: st.DrawFn, lead_id: str, max_events: int = 25) -> list[Event]:
    n = draw(st.integers(0, max_events))
    out = []
    for i in range(n):
        # minute resolution within [START, AT + 10d] so ties and boundaries happen
        minutes = draw(st.integers(0, int((AT - START).total_seconds() // 60) + 14_400))
        ts = START + timedelta(minutes=minutes)
        props: dict[str, Any] = {}
        if draw(st.booleans()):
            props["channel"] = draw(st.sampled_from(PROPS["channel"]))
        if draw(st.booleans()):
            props["amount"] = draw(st.sampled_from([*PROPS["amount"], "n/a"]))
        eid = draw(st.one_of(st.none(), st.sampled_from([f"{lead_id}-e{j}" for j in range(5)])))
        out.append(Event(lead_id=lead_id, type=draw(types_), timestamp=ts, properties=props, id=eid))
        if i and draw(st.integers(0, 9)) == 0:
            out.append(out[draw(st.integers(0, len(out) - 1))])  # exact duplicate
    return out


@st.composite
def leads(draw: st.DrawFn, lead_id: str) -> Lead:
    attrs: dict[str, Any] = {}
    if draw(st.booleans()):
        attrs["employees"] = draw(st.sampled_from([10, 100, 150.0, 200, 1000, "150"]))
    if draw(st.booleans()):
        attrs["role"] = draw(st.sampled_from(["ceo", "Director of sales", "director", "analyst"]))
    if draw(st.booleans()):
        attrs["country"] = "NL"
    return Lead(lead_id, attrs)


@st.composite
def populations(draw: st.DrawFn, max_leads: int = 6) -> tuple[list[Lead], list[Event]]:
    n = draw(st.integers(1, max_leads))
    ls = [draw(leads(f"L{i}")) for i in range(n)]
    evs: list[Event] = []
    for lead in ls:
        evs.extend(draw(events_for(lead.id)))
    order = draw(st.permutations(range(len(evs)))) if len(evs) < 60 else list(range(len(evs)))
    # interleave leads but keep each lead's own relative order (first-seen wins must not change)
    by_lead: dict[str, list[Event]] = {}
    for e in evs:
        by_lead.setdefault(e.lead_id, []).append(e)
    cursors = dict.fromkeys(by_lead, 0)
    mixed: list[Event] = []
    for idx in order:
        lid = evs[idx].lead_id
        mixed.append(by_lead[lid][cursors[lid]])
        cursors[lid] += 1
    return ls, mixed
