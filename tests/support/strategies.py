"""Hypothesis strategies, the one module that generates scoring models for the property tests.

Two generators, each with leads and events to match:
- `models` / `populations` (`ScoringModel`s over a small vocabulary): the pure scorer's invariants;
- `edge_models` / `edge_lifecycle_models` with `edge_data` / `edge_busy_data` (model documents as
  dicts, validated by the test: some are invalid on purpose): leads and events on the edges the
  SQL engines must get right (window boundaries, ties in time, duplicate ids, exact copies, mixed
  property kinds, bad stages), for the agreement of the batch engines with the pure scorer.

`valid_model` turns a generated document into a model, or rejects the example (`hypothesis.reject`)
instead of letting the test pass silently.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import reject
from hypothesis import strategies as st

from leadscore.domain import Event, Lead
from leadscore.model import ModelError, ScoringModel, validate_model

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


def valid_model(document: dict[str, Any]) -> ScoringModel:
    """The generated document as a model; an invalid one rejects the example (it is not counted)."""
    try:
        return validate_model(document)
    except ModelError:
        reject()


# -- models and data on the SQL engines' edges (see the module's docstring) ------------------------------
EDGE_TYPES = ["view", "click", "buy", "accepted", "won", "lost"]
EDGE_STAGES = ["lead", "mql", "sql", "customer"]
EDGE_EXITS = ["lost", "recycled"]
EDGE_DURATIONS = ["1s", "1d", "30d", "365d"]
# offsets (seconds before AT) that sit on and around every window edge; negative = after AT
EDGE_OFFSETS = [-86_400, -1, 0, 1, 86_399, 86_400, 86_401, 30 * 86_400, 200 * 86_400, 365 * 86_400, 365 * 86_400 + 1]
# non-ASCII text whose case folding differs between engines: the dotted capital I lowers to
# "i" + a combining dot in Python, the Kelvin sign to an ASCII "k", ß has no single upper case
EDGE_CATEGORIES = ["shoes", "bags", "Shoes-XL", "SCHUHÉ", "İstanbul", "\u212aelvin", "straße", "Chief Officer\n"]

edge_numbers = st.one_of(st.integers(-3, 300), st.sampled_from([0.5, 2.5, 99.5, 100.0, 250.0]))
edge_scalars = st.one_of(edge_numbers, st.sampled_from(EDGE_CATEGORIES), st.booleans())


@st.composite
def edge_predicate(draw: Any, values: st.SearchStrategy[Any] = edge_scalars) -> dict[str, Any]:
    key = draw(
        st.sampled_from(
            ["eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "contains", "matches", "exists"]
        )
    )
    if key in ("in", "not_in"):
        return {key: draw(st.lists(values, min_size=1, max_size=3))}
    if key == "between":
        lo, hi = draw(values), draw(values)
        return {key: [lo, hi]}
    if key == "contains":
        return {key: draw(st.sampled_from(["sho", "XL", "bag", "é", "i", "k", "STRASSE", "ß", "İ"]))}
    if key == "matches":
        patterns = ["^sh", "s$", "[A-Z]", "oe|ag", r"(?i)\bchief\b", r"\w+É", "(?i)schuh", r"^\S+$", "r$", "é|ß"]
        return {key: draw(st.sampled_from(patterns))}
    if key == "exists":
        return {key: draw(st.booleans())}
    return {key: draw(values)}


def edge_where() -> st.SearchStrategy[dict[str, Any]]:
    value = st.one_of(edge_scalars, st.lists(edge_scalars, min_size=1, max_size=2), edge_predicate())
    return st.dictionaries(st.sampled_from(["category", "amount", "flag", "mixed"]), value, max_size=2)


def edge_types() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(EDGE_TYPES[:3]), st.lists(st.sampled_from(EDGE_TYPES), min_size=1, max_size=2, unique=True)
    )


def edge_event_condition() -> st.SearchStrategy[dict[str, Any]]:
    within = st.one_of(st.none(), st.sampled_from(EDGE_DURATIONS))

    def clean(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if v is not None and v != {}}

    count = st.builds(
        lambda t, w, wi, p: clean({"count": t, "where": w, "within": wi, **p}),
        edge_types(),
        edge_where(),
        within,
        edge_predicate(st.integers(0, 3)),
    )
    agg = st.builds(
        lambda f, t, w, wi, p: clean({f: "amount", "of": t, "where": w, "within": wi, **p}),
        st.sampled_from(["sum", "min", "max", "avg"]),
        edge_types(),
        edge_where(),
        within,
        edge_predicate(edge_numbers),
    )
    none = st.builds(lambda t, w, wi: clean({"none": t, "where": w, "within": wi}), edge_types(), edge_where(), within)
    last = st.builds(
        lambda t, w, k, d: clean({"last": t, "where": w, k: d}),
        edge_types(),
        edge_where(),
        st.sampled_from(["older_than", "newer_than"]),
        st.sampled_from(EDGE_DURATIONS),
    )
    return st.one_of(count, agg, none, last)


def edge_attribute_condition() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda a, p: {"attribute": a, **p}, st.sampled_from(["employees", "country", "vip"]), edge_predicate()
    )


def edge_condition(
    extra: st.SearchStrategy[dict[str, Any]] | None = None, events: bool = True
) -> st.SearchStrategy[Any]:
    leaves = [edge_attribute_condition()]
    if events:
        leaves.append(edge_event_condition())
    if extra is not None:
        leaves.append(extra)
    base = st.one_of(*leaves)
    return st.recursive(
        base,
        lambda inner: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=2)),
            st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=2)),
            st.builds(lambda x: {"not": x}, inner),
        ),
        max_leaves=3,
    )


def edge_score_condition(dims: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda d, p: {"score": d, **p},
        st.sampled_from([*dims, "total"]),
        edge_predicate(st.sampled_from([-10, 0, 1, 20, 45, 60, 100.5])),
    )


@st.composite
def edge_event_rule(draw: Any, i: int, dim: str | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": f"r{i}",
        "on": draw(edge_types()),
        "points": draw(st.sampled_from([1, 5, -3, 2.5, 20, -15])),
    }
    if dim:
        rule["dimension"] = dim
    if draw(st.booleans()):
        rule["where"] = draw(edge_where())
    if draw(st.booleans()):
        rule["within"] = draw(st.sampled_from(EDGE_DURATIONS))
    if draw(st.booleans()):
        rule["once"] = True
    if draw(st.booleans()):
        rule["decay"] = draw(st.sampled_from([{"half_life": "30d"}, {"linear": "365d"}, {"half_life": "1d"}]))
    if draw(st.booleans()):
        rule["limit"] = draw(st.sampled_from([1, 10, 12.5]))
    return rule


@st.composite
def edge_event_transition(draw: Any) -> dict[str, Any]:
    """A transition on an event type, sometimes restricted to some source stages."""
    t: dict[str, Any] = {
        "to": draw(st.sampled_from(EDGE_STAGES + EDGE_EXITS)),
        "on": draw(st.sampled_from([*EDGE_TYPES[3:], "click"])),
    }
    if draw(st.booleans()):
        t["from"] = draw(st.lists(st.sampled_from(EDGE_STAGES + EDGE_EXITS), min_size=1, max_size=2, unique=True))
    return t


@st.composite
def edge_models(draw: Any) -> dict[str, Any]:
    dims = draw(st.sampled_from([None, ["engagement", "fit"]]))
    model: dict[str, Any] = {"format": 1, "name": "generated"}
    names = dims or ["score"]
    if dims:
        model["dimensions"] = {
            d: draw(
                st.fixed_dictionaries(
                    {}, optional={"floor": st.sampled_from([-20, 0]), "cap": st.sampled_from([10, 50])}
                )
            )
            for d in dims
        }
    rules = []
    for i in range(draw(st.integers(1, 5))):
        dim = draw(st.sampled_from(dims)) if dims else None
        if draw(st.integers(0, 2)):
            rules.append(draw(edge_event_rule(i, dim)))
        else:
            r: dict[str, Any] = {
                "id": f"c{i}",
                "when": draw(edge_condition()),
                "points": draw(st.sampled_from([10, -5, 7.5])),
            }
            if dim:
                r["dimension"] = dim
            rules.append(r)
    model["rules"] = rules
    scored = edge_condition(edge_score_condition(names))
    if draw(st.booleans()):
        model["labels"] = {
            f"set{k}": [{"label": f"l{j}", "when": draw(scored)} for j in range(draw(st.integers(1, 3)))]
            + ([{"label": "rest"}] if draw(st.booleans()) else [])
            for k in range(draw(st.integers(1, 2)))
        }
    if draw(st.booleans()):
        trs: list[dict[str, Any]] = []
        trs += draw(st.lists(edge_event_transition(), max_size=4))
        static = draw(st.booleans())
        auto_cond = edge_condition(None, events=False) if static else edge_condition(edge_score_condition(names))
        for to in draw(st.lists(st.sampled_from(EDGE_STAGES[1:]), max_size=2, unique=True)):
            trs.append({"to": to, "when": draw(auto_cond)})
        if draw(st.booleans()):
            trs.append({"to": "lead", "from": ["recycled"], "when": draw(auto_cond)})
        model["lifecycle"] = {"stages": EDGE_STAGES, "exits": EDGE_EXITS, "transitions": trs}
        if draw(st.booleans()):
            model["lifecycle"]["initial"] = draw(st.sampled_from(EDGE_STAGES))
    if draw(st.booleans()):
        extra = [edge_score_condition(names)]
        if "labels" in model:
            extra.append(
                st.builds(
                    lambda s, lab: {"label": s, "eq": lab},
                    st.sampled_from(list(model["labels"])),
                    st.sampled_from(["l0", "l1", "rest"]),
                )
            )
        if "lifecycle" in model:
            extra.append(
                st.builds(
                    lambda p: {"stage": p},
                    st.one_of(
                        st.sampled_from(EDGE_STAGES + EDGE_EXITS),
                        st.builds(lambda xs: {"in": xs}, st.lists(st.sampled_from(EDGE_STAGES), min_size=1)),
                    ),
                )
            )
        pb_cond = edge_condition(st.one_of(*extra))
        model["playbooks"] = [
            {"action": f"a{j}", "when": draw(pb_cond), **({"priority": j + 1} if j else {}), "content": ["x"] * j}
            for j in range(draw(st.integers(1, 2)))
        ] + ([{"action": "default"}] if draw(st.booleans()) else [])
    return model


edge_props = st.fixed_dictionaries(
    {},
    optional={
        "category": st.sampled_from(EDGE_CATEGORIES),
        "amount": edge_numbers,
        "flag": st.booleans(),
        "mixed": edge_scalars,
    },
)


@st.composite
def edge_data(draw: Any, stages: bool = True) -> tuple[list[Lead], list[Event]]:
    n = draw(st.integers(1, 5))
    leads = []
    for i in range(n):
        attrs = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "employees": st.one_of(st.integers(0, 300), st.sampled_from([100.0, 150.5])),
                    "country": st.sampled_from(["NL", "no", "shoes", "İstanbul", "SCHUHÉ"]),
                    "vip": st.booleans(),
                    **({"stage": st.sampled_from([*EDGE_STAGES, *EDGE_EXITS])} if stages else {}),
                },
            )
        )
        leads.append(Lead(f"L{i}", attrs))
    events: list[Event] = []
    for _ in range(draw(st.integers(0, 25))):
        lead = f"L{draw(st.integers(0, n))}"  # L{n} has no lead: ignored
        typ = draw(st.sampled_from([*EDGE_TYPES, "stage_set"] if stages else EDGE_TYPES))
        p = draw(edge_props)
        if typ == "stage_set":
            p = {"stage": draw(st.sampled_from(EDGE_STAGES + EDGE_EXITS))}
        ts = AT - timedelta(seconds=draw(st.sampled_from(EDGE_OFFSETS)))
        ev_id = draw(st.one_of(st.none(), st.sampled_from(["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"])))
        events.append(Event(lead, typ, ts, p, ev_id))
        if draw(st.integers(0, 9)) == 0:
            events.append(events[-1])  # an exact copy
    return leads, events


@st.composite
def edge_lifecycle_models(draw: Any) -> dict[str, Any]:
    """Models whose automatic transitions read scores and events at each event's time (the replay)."""
    dims = draw(st.sampled_from([None, ["engagement", "fit"]]))
    names = dims or ["score"]
    model: dict[str, Any] = {"format": 1, "name": "lifecycle"}
    if dims:
        model["dimensions"] = {"engagement": {"cap": 50}, "fit": {"floor": 0}}
    rules = [
        draw(edge_event_rule(i, draw(st.sampled_from(dims)) if dims else None)) for i in range(draw(st.integers(1, 4)))
    ]
    if draw(st.booleans()):
        rules.append(
            {
                "id": "c",
                "when": draw(edge_attribute_condition()),
                "points": 10,
                **({"dimension": "fit"} if dims else {}),
            }
        )
    model["rules"] = rules
    dynamic = st.one_of(
        edge_score_condition(names), edge_event_condition(), edge_condition(edge_score_condition(names))
    )
    trs: list[dict[str, Any]] = []
    for to in draw(st.lists(st.sampled_from(EDGE_STAGES[1:]), min_size=1, max_size=3, unique=True)):
        trs.append({"to": to, "when": draw(dynamic)})
    trs += draw(st.lists(edge_event_transition(), max_size=3))
    if draw(st.booleans()):
        trs.append({"to": "lead", "from": ["recycled"], "when": draw(dynamic)})
    model["lifecycle"] = {"stages": EDGE_STAGES, "exits": EDGE_EXITS, "transitions": trs}
    if draw(st.booleans()):
        model["playbooks"] = [{"action": "call", "when": {"stage": {"in": ["mql", "sql"]}}}, {"action": "wait"}]
    return model


@st.composite
def edge_busy_data(draw: Any, instants: int = 0) -> tuple[list[Lead], list[Event]]:
    """Few leads with many events each, on and around window edges and at shared instants (with
    `instants`, all of them at no more than that many instants: ties in time everywhere)."""
    offsets = EDGE_OFFSETS
    if instants:
        offsets = draw(st.lists(st.sampled_from(EDGE_OFFSETS), min_size=1, max_size=instants, unique=True))
    n = draw(st.integers(1, 3))
    leads = [
        Lead(f"L{i}", draw(st.fixed_dictionaries({}, optional={"employees": st.integers(0, 300)}))) for i in range(n)
    ]
    events: list[Event] = []
    for k in range(draw(st.integers(0, 40))):
        lead = f"L{draw(st.integers(0, n - 1))}"
        typ = draw(st.sampled_from([*EDGE_TYPES, "stage_set"]))
        p = draw(edge_props) if typ != "stage_set" else {"stage": draw(st.sampled_from(EDGE_STAGES + EDGE_EXITS))}
        ts = AT - timedelta(seconds=draw(st.sampled_from(offsets)))
        ev_id = draw(st.one_of(st.none(), st.just(f"e{k}"), st.sampled_from(["d1", "d2"])))
        events.append(Event(lead, typ, ts, p, ev_id))
    return leads, events
