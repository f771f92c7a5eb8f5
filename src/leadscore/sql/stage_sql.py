"""The lifecycle stage in SQL, for the models (and leads) where the replay can be decided without it.

The replay (engine.lifecycle_replay) applies, after each event in time order, the event's own transition f
and then the automatic transitions g until none applies. g is a fixed point (g∘g = g), so only events
that have a transition (or `stage_set`) matter, plus whether some event came before the first of them.

- When every automatic condition is *static* (lead attributes, or scores of dimensions made only of
  attribute rules), g is the same at every instant: the stage is a fold of f-then-g over the lead's
  relevant events (`list_reduce`), evaluated natively for every lead.
- Otherwise g depends on the score or the events at each event's time, which one GROUP BY cannot see:
  leads without events are still native (only the pass at T runs), the others fall back to the pure
  scorer, which is exact by definition.
A `stage` attribute or a `stage_set` event naming no stage is bad data: those leads also go to the
pure scorer, which refuses them with its error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import assert_never

from leadscore.engine.lifecycle_replay import STAGE_SET
from leadscore.model.checks import auto_sources
from leadscore.model.conditions import (
    AggregateCondition,
    AllCondition,
    AnyCondition,
    AttributeCondition,
    Condition,
    CountCondition,
    LabelCondition,
    LastCondition,
    NoneCondition,
    NotCondition,
    ScoreCondition,
    StageCondition,
)
from leadscore.model.spec import ConditionRule, Lifecycle, ScoringModel, Transition
from leadscore.sql import literals as q
from leadscore.sql.condition_sql import ORD, TS, Compiler
from leadscore.sql.predicate_sql import NotExpressible
from leadscore.sql.stage_bounds import Bounds, Maybe
from leadscore.sql.stage_fold import RecursiveFold

FOLD = "_ls_fold"
FOLDED = "_ls_fv"  # the replay's fold made outside the query (`bulk.replay_fold`), a column of its base


def _static_rule(rule: object) -> bool:
    return isinstance(rule, ConditionRule) and is_static(rule.when, None)


def is_static(cond: Condition, model: ScoringModel | None) -> bool:
    """True when the condition has the same value at every instant of a lead's replay."""
    match cond:
        case AttributeCondition():
            return True
        case ScoreCondition():
            if model is None:
                return False
            rules = [r for r in model.rules if cond.score == "total" or model.dimension_of(r) == cond.score]
            return all(_static_rule(r) for r in rules)
        case AllCondition() | AnyCondition() | NotCondition():
            return all(is_static(k, model) for _, k in cond.children())
        case CountCondition() | AggregateCondition() | NoneCondition() | LastCondition():
            return False  # events arrive during the replay
        case LabelCondition() | StageCondition():
            return False  # not allowed in a lifecycle
        case _:
            assert_never(cond)


@dataclass(frozen=True)
class StageSql:
    stage: str  # VARCHAR over the lead's row (may read FOLD)
    fold: str | None  # the fold over the lead's events, computed once into the column FOLD
    bad: str  # BOOLEAN: bad stage data, which the pure scorer refuses with its error
    undecided: str  # BOOLEAN: the bounds cannot decide the stage; the replay (or the pure scorer) must
    dynamic: bool  # some automatic condition changes with time
    recursive: RecursiveFold | None = None  # the fold as a recursive CTE instead of `fold` (no lambdas)
    # (column, SQL): the automatic transitions' conditions over the lead's row, computed as columns
    # before the fold reads them (a lambda cannot hold the subqueries or UDFs of `lookups`)
    columns: tuple[tuple[str, str], ...] = ()
    # the exact replay's fold (`replay`): its list aggregate's SQL, and the BOOLEAN over an event row
    # that keeps it in the list when the replay table has no row at its time (every condition NULL)
    fold_list: str | None = None
    fold_moving: str | None = None
    # the initial stage over the lead's row, and (the list fold) the aggregate listing each lead's events
    # that move a stage on their own, sorted: what `bulk.replay_fold` folds outside the query
    init: str = ""
    moving_list: str | None = None


def auto_conditions(model: ScoringModel) -> list[Condition]:
    """The automatic transitions' conditions, in model order (`_ls_c{k}` in the replay tables)."""
    lc = model.lifecycle
    return [tr.when for tr in lc.transitions if tr.when is not None] if lc else []


def _g(lc: Lifecycle, checks: list[tuple[str, frozenset[str], str]]) -> Callable[[str], str]:
    """SQL applying the automatic transitions until none applies, to a stage expression."""
    stages = lc.all_stages()

    def closure(stage: str, depth: int) -> str:
        if depth > len(stages):
            raise NotExpressible("automatic transitions that can cycle")
        branches = [f"WHEN {cond} THEN {closure(to, depth + 1)}" for to, sources, cond in checks if stage in sources]
        if not branches:
            return q.text(stage)
        return f"(CASE {' '.join(branches)} ELSE {q.text(stage)} END)"

    table = {s: closure(s, 0) for s in stages}
    moving = {s: sql for s, sql in table.items() if sql != q.text(s)}

    def apply(expr: str) -> str:
        if not moving:
            return expr
        whens = " ".join(f"WHEN {q.text(s)} THEN {sql}" for s, sql in moving.items())
        return f"(CASE {expr} {whens} ELSE {expr} END)"

    return apply


def moving_types(lc: Lifecycle) -> list[str]:
    """The event types that can move a stage on their own: `stage_set` and each transition's `on`."""
    return sorted({STAGE_SET, *(t for tr in lc.transitions for t in (tr.on or ()))})


def relevance(lc: Lifecycle) -> list[tuple[frozenset[str], frozenset[str]]]:
    """Per automatic transition (`auto_conditions`' order): (the initial stages, the event types) after
    which a lead may be in one of its sources. Before both, its condition is never read by the replay
    (`engine.lifecycle_replay`: an automatic transition is tested only from its sources), so its value
    there changes nothing. By a closure that over-approximates: an event transition moves from any stage
    once its type is seen, `stage_set` to any, an automatic one whenever its sources may be reached."""
    edges: dict[str, set[str]] = {s: set() for s in lc.all_stages()}
    autos = [tr for tr in lc.transitions if tr.when is not None]
    for tr in autos:
        for src in auto_sources(lc, tr.to, tr.from_):
            edges.setdefault(src, set()).add(tr.to)

    def reach(stage: str) -> set[str]:
        seen, todo = {stage}, [stage]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    out = []
    for tr in autos:
        sources = set(auto_sources(lc, tr.to, tr.from_))
        stages = frozenset(s for s in edges if reach(s) & sources)
        types = {t for e in lc.transitions if e.on and reach(e.to) & sources for t in e.on}
        out.append((stages, frozenset(types | ({STAGE_SET} if stages else set()))))
    return out


def reentries(lc: Lifecycle) -> list[tuple[frozenset[str], frozenset[str]] | None]:
    """Per automatic transition (`auto_conditions`' order), where its condition may be read again after
    a time where it held: (the stages Q from which only other automatic transitions lead to its
    sources, the event types that may bring a lead to one of Q); None when an automatic transition leads
    into Q (then a hold says nothing of where the lead is).

    At a time where the condition holds, the automatic transitions run until none applies, so the lead
    ends that time outside the sources (it would move on otherwise). If it cannot be in Q then (its
    initial stage is not in Q and no event of those types came by then), it is outside every stage that
    leads to a source (`relevance`' stages: the sources and Q), and only an event of `relevance`' types
    brings it back: an event transition from such a stage leads to another (else its types would be
    those), an automatic one too (else the stage would lead to a source). Until then the replay never
    reads the condition (`bulk.frame_reads`)."""
    autos = [tr for tr in lc.transitions if tr.when is not None]
    out: list[tuple[frozenset[str], frozenset[str]] | None] = []
    for tr, (stages, _) in zip(autos, relevance(lc), strict=True):
        back = stages - frozenset(auto_sources(lc, tr.to, tr.from_))
        if any(a.to in back for a in autos):
            out.append(None)
            continue
        types = {t for e in lc.transitions if e.on and e.to in back for t in e.on}
        out.append((back, frozenset(types | ({STAGE_SET} if back else set()))))
    return out


def _replay_sql(c: Compiler, model: ScoringModel, init: str, stage_value: str, bad: str, folded: bool) -> StageSql:
    """The exact replay: a fold over every event in (time, input) order applying its transition and
    then the automatic ones with their conditions at the event's time (`x._ls_c{k}`, computed by
    `replay.conditions_query`), and the automatic ones once more at T (`_ls_ct{k}`). With `folded`, the
    fold is the column FOLDED (made by `bulk.replay_fold`), and no aggregate lists the events."""
    lc = model.lifecycle
    assert lc is not None
    autos = [tr for tr in lc.transitions if tr.when is not None]
    sources = [(tr.to, frozenset(auto_sources(lc, tr.to, tr.from_))) for tr in autos]
    g_event = _g(lc, [(to, src, f"coalesce(x._ls_c{k}, FALSE)") for k, (to, src) in enumerate(sources)])
    g_end = _g(lc, [(to, src, f"coalesce(_ls_ct{k}, FALSE)") for k, (to, src) in enumerate(sources)])
    if folded:
        return StageSql(g_end(FOLD), FOLDED, bad, "FALSE", False, init=init)
    event_trs = [tr for tr in lc.transitions if tr.on is not None]
    whens = [f"WHEN x.t = {q.text(STAGE_SET)} THEN x.s"]
    for tr in event_trs:
        cond = f"x.t IN {q.text_list(tr.on or ())}"
        if tr.from_:
            cond += f" AND acc IN {q.text_list(tr.from_)}"
        whens.append(f"WHEN {cond} THEN {q.text(tr.to)}")
    f = f"(CASE {' '.join(whens)} ELSE acc END)"
    order = ORD if c.schema.has_ord else "id"
    conds = "".join(f", _ls_c{k} := _ls_c{k}" for k in range(len(autos)))
    # an event with no transition of its own and no condition that holds at its time moves nothing
    # (its step is the automatic transitions with every condition false): left out of the fold, which
    # then walks far fewer events where few conditions hold (`bulk.lifecycle_walk.drop_idle`)
    held = [f"coalesce(_ls_c{k}, FALSE)" for k in range(len(autos))]
    moving = f"type IN {q.text_list(moving_types(lc))}"
    keep = q.any_of([moving, *held])
    item = f"struct_pack(a := {TS}, b := {order}, t := type, s := {stage_value}{conds})"
    listed = f"list_sort(list({item}) FILTER (WHERE {keep}))"
    seq = c.aggs.add(listed)
    fold = f"list_reduce(coalesce({seq}, []), lambda acc, x: {g_event(f)}, {init})"
    return StageSql(g_end(FOLD), fold, bad, "FALSE", False, fold_list=listed, fold_moving=moving, init=init)


def stage_sql(
    c: Compiler, model: ScoringModel, lists: str = "duckdb", *, replay: bool = False, folded: bool = False
) -> StageSql:
    """The stage; with `replay`, the exact fold over the replay tables (DuckDB only), with `folded` read
    from the column FOLDED. `lists` says how the fold is written: duckdb (list_reduce), spark (aggregate)
    or recursive (`recursive.py`)."""
    lc = model.lifecycle
    assert lc is not None
    stages = lc.all_stages()
    n_events = c.aggs.add("count(*)")
    has_events = f"coalesce({n_events}, 0) > 0"
    bounds = Bounds(c, model)
    autos: list[tuple[str, frozenset[str], str]] = []
    dynamic: list[tuple[Transition, frozenset[str], Maybe]] = []
    fires: dict[int, str] = {}
    for tr in lc.transitions:
        if tr.when is None:
            continue
        sources = frozenset(auto_sources(lc, tr.to, tr.from_))
        exact = c.condition(tr.when)
        if is_static(tr.when, model):
            autos.append((tr.to, sources, exact))
            fires[id(tr)] = exact
            continue
        # constant over the replay when the bounds decide it; exact at T for a lead without events
        m = bounds.condition(tr.when)
        dynamic.append((tr, sources, m))
        fires[id(tr)] = m.may_hold
        autos.append((tr.to, sources, f"(CASE WHEN {has_events} THEN {q.negate(m.may_fail)} ELSE {exact} END)"))
    columns = tuple((f"_ls_ga{k}", sql) for k, (_, _, sql) in enumerate(autos))
    autos = [(to, sources, col) for (to, sources, _), (col, _) in zip(autos, columns, strict=True)]
    g = _g(lc, autos)

    attr = next((s.column for s in c.schema.leads.of("stage") if s.kind == "str"), None)
    attr_present = q.any_of([f"{q.ident(s.column)} IS NOT NULL" for s in c.schema.leads.of("stage")])
    init = q.text(lc.initial_stage) if attr is None else f"coalesce({q.ident(attr)}, {q.text(lc.initial_stage)})"
    bad_attr = q.all_of([attr_present, q.negate(f"coalesce({init} IN {q.text_list(stages)}, FALSE)")])

    stage_prop = next((s.column for s in c.schema.events.of("stage") if s.kind == "str"), None)
    stage_value = q.ident(stage_prop) if stage_prop else "CAST(NULL AS VARCHAR)"
    bad_set = c.count(f"type = {q.text(STAGE_SET)} AND NOT coalesce({stage_value} IN {q.text_list(stages)}, FALSE)")
    bad = q.any_of([bad_attr, f"{bad_set} > 0"])
    if replay:
        return _replay_sql(c, model, init, stage_value, bad, folded)
    undecided = "FALSE"
    event_trs = [tr for tr in lc.transitions if tr.on is not None]
    if dynamic:
        reach = _reach(c, lc, init, stage_value, fires)
        checks = [
            q.all_of([q.any_of([reach[s] for s in sorted(sources)]), m.may_hold, m.may_fail])
            for _, sources, m in dynamic
        ]
        undecided = q.all_of([has_events, q.any_of(checks)])

    relevant = sorted({STAGE_SET, *(t for tr in event_trs for t in (tr.on or ()))})

    def f(acc: str) -> str:
        whens = [f"WHEN x.t = {q.text(STAGE_SET)} THEN x.s"]
        for tr in event_trs:
            cond = f"x.t IN {q.text_list(tr.on or ())}"
            if tr.from_:
                cond += f" AND {acc} IN {q.text_list(tr.from_)}"
            whens.append(f"WHEN {cond} THEN {q.text(tr.to)}")
        return f"(CASE {' '.join(whens)} ELSE {acc} END)"

    rel = f"type IN {q.text_list(relevant)}"
    order = ORD if c.schema.has_ord else "id"
    if lists == "recursive":
        steps = RecursiveFold(rel, order, stage_value, init, g(init), g(f("acc")))
        return StageSql(g(FOLD), None, bad, undecided, bool(dynamic), steps, columns)
    item = f"struct_pack(a := {TS}, b := {order}, t := type, s := {stage_value})"
    listed = f"list_sort(list({item}) FILTER (WHERE {rel}))"
    seq = c.aggs.add(listed)
    start = init
    if g(init) != init:
        first_relevant = c.aggs.add(f"arg_min({rel}, ({TS}, {order}))")
        start = f"(CASE WHEN coalesce(NOT {first_relevant}, FALSE) THEN {g(init)} ELSE {init} END)"
    if lists == "duckdb":
        fold = f"list_reduce(coalesce({seq}, []), lambda acc, x: {g(f('acc'))}, {start})"
    else:
        fold = f"aggregate(coalesce({seq}, array()), {start}, (acc, x) -> {g(f('acc'))})"
    return StageSql(g(FOLD), fold, bad, undecided, bool(dynamic), columns=columns, init=init, moving_list=listed)


def _reach(c: Compiler, lc: Lifecycle, init: str, stage_value: str, fires: dict[int, str]) -> dict[str, str]:
    """Per stage, may the lead ever be there? Over-approximated: event transitions ignore `from:`."""
    stages = lc.all_stages()
    base: dict[str, list[str]] = {s: [f"({init} = {q.text(s)})"] for s in stages}
    for tr in lc.transitions:
        if tr.on is not None:
            base[tr.to].append(f"({c.count(f'type IN {q.text_list(tr.on)}')} > 0)")
    for s in stages:
        base[s].append(f"({c.count(f'type = {q.text(STAGE_SET)} AND {stage_value} = {q.text(s)}')} > 0)")
    autos = [(tr.to, frozenset(auto_sources(lc, tr.to, tr.from_)), tr) for tr in lc.transitions if tr.when is not None]
    memo: dict[str, str] = {}

    def reach(s: str, depth: int = 0) -> str:
        if s not in memo:
            if depth > len(stages):
                raise NotExpressible("automatic transitions that can cycle")
            parts = list(base[s])
            for to, sources, tr in autos:
                if to == s:
                    came = q.any_of([reach(u, depth + 1) for u in sorted(sources) if u != s])
                    parts.append(q.all_of([fires[id(tr)], came]))
            memo[s] = q.any_of(parts)
        return memo[s]

    return {s: reach(s) for s in stages}
