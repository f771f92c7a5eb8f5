"""Hypothesis strategies: random models over a small vocabulary, and leads / events that hit its edges
(window boundaries, ties in time, duplicate ids, exact copies, mixed property kinds, bad stages)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import parse_timestamp

AT = parse_timestamp("2026-06-01T00:00:00Z")
TYPES = ["view", "click", "buy", "accepted", "won", "lost"]
STAGES = ["lead", "mql", "sql", "customer"]
EXITS = ["lost", "recycled"]
DURATIONS = ["1s", "1d", "30d", "365d"]
# offsets (seconds before AT) that sit on and around every window edge; negative = after AT
OFFSETS = [-86_400, -1, 0, 1, 86_399, 86_400, 86_401, 30 * 86_400, 200 * 86_400, 365 * 86_400, 365 * 86_400 + 1]
# non-ASCII text whose case folding differs between engines: the dotted capital I lowers to
# "i" + a combining dot in Python, the Kelvin sign to an ASCII "k", ß has no single upper case
CATEGORIES = ["shoes", "bags", "Shoes-XL", "SCHUHÉ", "İstanbul", "\u212aelvin", "straße", "Chief Officer\n"]

numbers = st.one_of(st.integers(-3, 300), st.sampled_from([0.5, 2.5, 99.5, 100.0, 250.0]))
scalars = st.one_of(numbers, st.sampled_from(CATEGORIES), st.booleans())


@st.composite
def predicate(draw: Any, values: st.SearchStrategy[Any] = scalars) -> dict[str, Any]:
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


def where() -> st.SearchStrategy[dict[str, Any]]:
    value = st.one_of(scalars, st.lists(scalars, min_size=1, max_size=2), predicate())
    return st.dictionaries(st.sampled_from(["category", "amount", "flag", "mixed"]), value, max_size=2)


def types() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(TYPES[:3]), st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True))


def event_condition() -> st.SearchStrategy[dict[str, Any]]:
    within = st.one_of(st.none(), st.sampled_from(DURATIONS))

    def clean(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if v is not None and v != {}}

    count = st.builds(
        lambda t, w, wi, p: clean({"count": t, "where": w, "within": wi, **p}),
        types(),
        where(),
        within,
        predicate(st.integers(0, 3)),
    )
    agg = st.builds(
        lambda f, t, w, wi, p: clean({f: "amount", "of": t, "where": w, "within": wi, **p}),
        st.sampled_from(["sum", "min", "max", "avg"]),
        types(),
        where(),
        within,
        predicate(numbers),
    )
    none = st.builds(lambda t, w, wi: clean({"none": t, "where": w, "within": wi}), types(), where(), within)
    last = st.builds(
        lambda t, w, k, d: clean({"last": t, "where": w, k: d}),
        types(),
        where(),
        st.sampled_from(["older_than", "newer_than"]),
        st.sampled_from(DURATIONS),
    )
    return st.one_of(count, agg, none, last)


def attribute_condition() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda a, p: {"attribute": a, **p}, st.sampled_from(["employees", "country", "vip"]), predicate())


def condition(extra: st.SearchStrategy[dict[str, Any]] | None = None, events: bool = True) -> st.SearchStrategy[Any]:
    leaves = [attribute_condition()]
    if events:
        leaves.append(event_condition())
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


def score_condition(dims: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda d, p: {"score": d, **p},
        st.sampled_from([*dims, "total"]),
        predicate(st.sampled_from([-10, 0, 1, 20, 45, 60, 100.5])),
    )


@st.composite
def event_rule(draw: Any, i: int, dim: str | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": f"r{i}",
        "on": draw(types()),
        "points": draw(st.sampled_from([1, 5, -3, 2.5, 20, -15])),
    }
    if dim:
        rule["dimension"] = dim
    if draw(st.booleans()):
        rule["where"] = draw(where())
    if draw(st.booleans()):
        rule["within"] = draw(st.sampled_from(DURATIONS))
    if draw(st.booleans()):
        rule["once"] = True
    if draw(st.booleans()):
        rule["decay"] = draw(st.sampled_from([{"half_life": "30d"}, {"linear": "365d"}, {"half_life": "1d"}]))
    if draw(st.booleans()):
        rule["limit"] = draw(st.sampled_from([1, 10, 12.5]))
    return rule


@st.composite
def event_transition(draw: Any) -> dict[str, Any]:
    """A transition on an event type, sometimes restricted to some source stages."""
    t: dict[str, Any] = {
        "to": draw(st.sampled_from(STAGES + EXITS)),
        "on": draw(st.sampled_from([*TYPES[3:], "click"])),
    }
    if draw(st.booleans()):
        t["from"] = draw(st.lists(st.sampled_from(STAGES + EXITS), min_size=1, max_size=2, unique=True))
    return t


@st.composite
def models(draw: Any) -> dict[str, Any]:
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
            rules.append(draw(event_rule(i, dim)))
        else:
            r: dict[str, Any] = {
                "id": f"c{i}",
                "when": draw(condition()),
                "points": draw(st.sampled_from([10, -5, 7.5])),
            }
            if dim:
                r["dimension"] = dim
            rules.append(r)
    model["rules"] = rules
    scored = condition(score_condition(names))
    if draw(st.booleans()):
        model["labels"] = {
            f"set{k}": [{"label": f"l{j}", "when": draw(scored)} for j in range(draw(st.integers(1, 3)))]
            + ([{"label": "rest"}] if draw(st.booleans()) else [])
            for k in range(draw(st.integers(1, 2)))
        }
    if draw(st.booleans()):
        trs: list[dict[str, Any]] = []
        trs += draw(st.lists(event_transition(), max_size=4))
        static = draw(st.booleans())
        auto_cond = condition(None, events=False) if static else condition(score_condition(names))
        for to in draw(st.lists(st.sampled_from(STAGES[1:]), max_size=2, unique=True)):
            trs.append({"to": to, "when": draw(auto_cond)})
        if draw(st.booleans()):
            trs.append({"to": "lead", "from": ["recycled"], "when": draw(auto_cond)})
        model["lifecycle"] = {"stages": STAGES, "exits": EXITS, "transitions": trs}
        if draw(st.booleans()):
            model["lifecycle"]["initial"] = draw(st.sampled_from(STAGES))
    if draw(st.booleans()):
        extra = [score_condition(names)]
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
                        st.sampled_from(STAGES + EXITS),
                        st.builds(lambda xs: {"in": xs}, st.lists(st.sampled_from(STAGES), min_size=1)),
                    ),
                )
            )
        pb_cond = condition(st.one_of(*extra))
        model["playbooks"] = [
            {"action": f"a{j}", "when": draw(pb_cond), **({"priority": j + 1} if j else {}), "content": ["x"] * j}
            for j in range(draw(st.integers(1, 2)))
        ] + ([{"action": "default"}] if draw(st.booleans()) else [])
    return model


props = st.fixed_dictionaries(
    {},
    optional={
        "category": st.sampled_from(CATEGORIES),
        "amount": numbers,
        "flag": st.booleans(),
        "mixed": scalars,
    },
)


@st.composite
def data(draw: Any, stages: bool = True) -> tuple[list[Lead], list[Event]]:
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
                    **({"stage": st.sampled_from([*STAGES, *EXITS])} if stages else {}),
                },
            )
        )
        leads.append(Lead(f"L{i}", attrs))
    events: list[Event] = []
    for _ in range(draw(st.integers(0, 25))):
        lead = f"L{draw(st.integers(0, n))}"  # L{n} has no lead: ignored
        typ = draw(st.sampled_from([*TYPES, "stage_set"] if stages else TYPES))
        p = draw(props)
        if typ == "stage_set":
            p = {"stage": draw(st.sampled_from(STAGES + EXITS))}
        ts = AT - timedelta(seconds=draw(st.sampled_from(OFFSETS)))
        ev_id = draw(st.one_of(st.none(), st.sampled_from(["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"])))
        events.append(Event(lead, typ, ts, p, ev_id))
        if draw(st.integers(0, 9)) == 0:
            events.append(events[-1])  # an exact copy
    return leads, events


@st.composite
def lifecycle_models(draw: Any) -> dict[str, Any]:
    """Models whose automatic transitions read scores and events at each event's time (the replay)."""
    dims = draw(st.sampled_from([None, ["engagement", "fit"]]))
    names = dims or ["score"]
    model: dict[str, Any] = {"format": 1, "name": "lifecycle"}
    if dims:
        model["dimensions"] = {"engagement": {"cap": 50}, "fit": {"floor": 0}}
    rules = [draw(event_rule(i, draw(st.sampled_from(dims)) if dims else None)) for i in range(draw(st.integers(1, 4)))]
    if draw(st.booleans()):
        rules.append(
            {"id": "c", "when": draw(attribute_condition()), "points": 10, **({"dimension": "fit"} if dims else {})}
        )
    model["rules"] = rules
    dynamic = st.one_of(score_condition(names), event_condition(), condition(score_condition(names)))
    trs: list[dict[str, Any]] = []
    for to in draw(st.lists(st.sampled_from(STAGES[1:]), min_size=1, max_size=3, unique=True)):
        trs.append({"to": to, "when": draw(dynamic)})
    trs += draw(st.lists(event_transition(), max_size=3))
    if draw(st.booleans()):
        trs.append({"to": "lead", "from": ["recycled"], "when": draw(dynamic)})
    model["lifecycle"] = {"stages": STAGES, "exits": EXITS, "transitions": trs}
    if draw(st.booleans()):
        model["playbooks"] = [{"action": "call", "when": {"stage": {"in": ["mql", "sql"]}}}, {"action": "wait"}]
    return model


@st.composite
def busy_data(draw: Any) -> tuple[list[Lead], list[Event]]:
    """Few leads with many events each, on and around window edges and at shared instants."""
    n = draw(st.integers(1, 3))
    leads = [
        Lead(f"L{i}", draw(st.fixed_dictionaries({}, optional={"employees": st.integers(0, 300)}))) for i in range(n)
    ]
    events: list[Event] = []
    for k in range(draw(st.integers(0, 40))):
        lead = f"L{draw(st.integers(0, n - 1))}"
        typ = draw(st.sampled_from([*TYPES, "stage_set"]))
        p = draw(props) if typ != "stage_set" else {"stage": draw(st.sampled_from(STAGES + EXITS))}
        ts = AT - timedelta(seconds=draw(st.sampled_from(OFFSETS)))
        ev_id = draw(st.one_of(st.none(), st.just(f"e{k}"), st.sampled_from(["d1", "d2"])))
        events.append(Event(lead, typ, ts, p, ev_id))
    return leads, events
