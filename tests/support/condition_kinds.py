"""One sample condition per kind of the registry (`leadscore.model.conditions.Condition`), the models that
place it everywhere the model format allows it, and data on which each sample is sometimes true and
sometimes false. The engine tests run every kind through every engine from here; a kind added to the
registry without a sample fails `test_every_kind_has_a_sample` until it gets one.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.model import ModelError, validate_model
from leadscore.model.conditions import CONDITION_KINDS
from leadscore.model.spec import ScoringModel

AT = datetime(2026, 6, 1, tzinfo=UTC)
START = AT - timedelta(days=90)

# by kind (`KIND` of each class of the registry)
SAMPLES: dict[str, dict[str, Any]] = {
    "attribute": {"attribute": "employees", "gte": 100},
    "count": {"count": "page_view", "where": {"path": {"contains": "pricing"}}, "within": "14d", "gte": 2},
    "aggregate": {"sum": "amount", "of": "purchase", "within": "60d", "gte": 100},
    "none": {"none": ["email_open", "webinar"], "within": "14d"},
    "last": {"last": "page_view", "newer_than": "7d", "older_than": "1d"},
    "score": {"score": "total", "gte": 20},
    "label": {"label": "tier", "eq": "hot"},
    "stage": {"stage": {"in": ["mql", "sql"]}},
    "all": {"all": [{"attribute": "region", "eq": "eu"}, {"count": "page_view", "gte": 1}]},
    "any": {"any": [{"attribute": "employees", "lt": 10}, {"max": "amount", "of": "purchase", "gt": 150}]},
    "not": {"not": {"last": "email_open", "older_than": "21d"}},
}


def kinds() -> list[str]:
    """The kinds of the registry, in its order."""
    return [cls.KIND for cls in CONDITION_KINDS]


def _document(name: str, sample: dict[str, Any] | None, sections: set[str], lifecycle: bool) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {"id": "visit", "dimension": "engagement", "on": "page_view", "points": 4, "within": "30d"},
        {"id": "buy", "dimension": "engagement", "on": "purchase", "points": 6, "decay": {"half_life": "20d"}},
        {"id": "big", "dimension": "fit", "when": {"attribute": "employees", "gte": 500}, "points": 10},
    ]
    bands: list[dict[str, Any]] = [{"label": "hot", "when": {"score": "total", "gte": 30}}, {"label": "cold"}]
    transitions: list[dict[str, Any]] = [
        {"to": "mql", "on": "form_submit"},
        {"to": "sql", "on": "demo_request", "from": ["mql"]},
    ]
    playbooks: list[dict[str, Any]] = [{"name": "default", "action": "nurture"}]
    if sample is not None:
        if "rules" in sections:
            rules.append({"id": "sample", "dimension": "fit", "when": sample, "points": 7})
        if "labels" in sections:
            bands.insert(0, {"label": "sampled", "when": sample})
        if "playbooks" in sections:
            playbooks.insert(0, {"name": "sampled", "when": sample, "action": "call", "priority": 1})
        if "lifecycle" in sections:
            transitions.append({"to": "mql", "from": ["lead"], "when": sample})
    doc: dict[str, Any] = {
        "format": 1,
        "name": name,
        "dimensions": {"fit": {}, "engagement": {"cap": 60}},
        "rules": rules,
        "labels": {"tier": bands},
        "playbooks": playbooks,
    }
    if lifecycle:
        doc["lifecycle"] = {"stages": ["lead", "mql", "sql"], "transitions": transitions}
    return doc


def _allowed(kind: str, section: str) -> bool:
    try:
        validate_model(_document("probe", SAMPLES[kind], {section}, lifecycle=True))
    except ModelError:
        return False
    return True


def models_for(kind: str) -> dict[str, ScoringModel]:
    """The sample of `kind` in every section that allows it: `results` (condition rules, label bands,
    playbooks, with event transitions only: the SQL engines decide every lead) and, when automatic
    transitions allow the kind, `lifecycle` (the sample moves leads to `mql` in the replay)."""
    allowed = {s for s in ("rules", "labels", "playbooks", "lifecycle") if _allowed(kind, s)}
    out = {"results": validate_model(_document(f"kind-{kind}", SAMPLES[kind], allowed - {"lifecycle"}, True))}
    if "lifecycle" in allowed:
        out["lifecycle"] = validate_model(_document(f"kind-{kind}-lifecycle", SAMPLES[kind], {"lifecycle"}, True))
    return out


def store_model(kind: str) -> ScoringModel | None:
    """The `results` model without a lifecycle (the store's bulk paths take models without one), or None
    for a kind that needs a lifecycle (`stage`)."""
    allowed = {s for s in ("rules", "labels", "playbooks") if _allowed(kind, s)}
    try:
        return validate_model(_document(f"kind-{kind}-store", SAMPLES[kind], allowed, lifecycle=False))
    except ModelError:
        return None


def data(seed: int = 5, n_leads: int = 40, n_events: int = 600) -> tuple[list[Lead], list[Event]]:
    """Leads and events with one kind of value per attribute and property (the SQL's tables are typed)."""
    rnd = random.Random(seed)
    leads = []
    for i in range(n_leads):
        attrs: dict[str, Any] = {"employees": rnd.choice([5, 50, 150, 900])}
        if rnd.random() < 0.7:
            attrs["region"] = rnd.choice(["eu", "us"])
        leads.append(Lead(f"L{i:03d}", attrs))
    types = ["page_view", "page_view", "page_view", "purchase", "email_open", "webinar", "form_submit", "demo_request"]
    events = []
    span = int((AT - START).total_seconds())
    for i in range(n_events):
        typ = rnd.choice(types)
        when = START + timedelta(seconds=rnd.randrange(span), microseconds=rnd.randrange(1_000_000))
        props: dict[str, Any] = {}
        if typ == "page_view":
            props["path"] = rnd.choice(["/", "/pricing", "/docs", "/pricing/team"])
        elif typ == "purchase":
            props["amount"] = rnd.choice([20, 45.5, 99, 160])
        lead = int(n_leads * rnd.random() ** 2)  # a few busy leads, many quiet ones
        events.append(Event(f"L{lead:03d}", typ, when, props, f"e{i}"))
    return leads, events
