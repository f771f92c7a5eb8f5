"""The result shape of `Result.to_dict()` built in SQL from the query's positional columns."""

from __future__ import annotations

from leadscore.domain.timeutil import from_micros, to_iso
from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q
from leadscore.sql.query import QueryPlan


def _struct(fields: list[tuple[str, str]]) -> str:
    return "struct_pack(" + ", ".join(f"{q.ident(k)} := {v}" for k, v in fields) + ")"


def shape_sql(
    model: ScoringModel, version: str, plan: QueryPlan, at: int, source: str, *, json: bool, text: bool = False
) -> str:
    """SELECT over `source` (the materialized query) giving one result per lead, in to_dict's shape.

    For JSON, the breakdown is rendered as JSON text so that condition rules carry no `events` key,
    exactly like `BreakdownEntry.to_dict`; typed JSON, unless `text` (a VARCHAR of the same text, for
    a caller that stores it as text: the cast to JSON parses the text again, a third of the shaping
    of a store's rows, and the store's cast back to VARCHAR gave the same text).
    """
    if json and text:
        breakdown = breakdown_text(plan)
    else:
        breakdown = f"list_filter([{', '.join(_entries(plan))}], lambda e: e.points <> 0)"
        if json:
            breakdown = f"CAST(replace(CAST(to_json({breakdown}) AS VARCHAR), ',\"events\":null', '') AS JSON)"
    cols = common_columns(model, version, plan, at, json=json)
    cols.insert(-1, ("breakdown", breakdown))
    return select(cols, source)


def _entries(plan: QueryPlan) -> list[str]:
    """The breakdown's entries, one struct per rule then per dimension's cap or floor."""
    entries = []
    for i, r in enumerate(plan.rules):
        events = f"CAST(events_{i} AS BIGINT)" if r.events is not None else "CAST(NULL AS BIGINT)"
        entries.append(
            _struct(
                [
                    ("rule", q.text(r.id)),
                    ("dimension", q.text(r.dimension)),
                    ("points", f"points_{i}"),
                    ("events", events),
                ]
            )
        )
    for j, d in enumerate(plan.dimensions):
        name = f"(CASE WHEN adjust_{j} < 0 THEN {q.text('cap:' + d)} ELSE {q.text('floor:' + d)} END)"
        entries.append(
            _struct(
                [
                    ("rule", name),
                    ("dimension", q.text(d)),
                    ("points", f"adjust_{j}"),
                    ("events", "CAST(NULL AS BIGINT)"),
                ]
            )
        )
    return entries


def breakdown_text(plan: QueryPlan) -> str:
    """DuckDB: the breakdown's JSON text (VARCHAR) as `to_json` of `_entries`' list without the zero
    entries and each `"events":null` gives it, written entry by entry: each entry's constant part
    (`{"rule":..,"dimension":..,"points":`, made by `to_json` of the constants, which the planner folds
    once) joined to `to_json` of its points and its count, the entries of nonzero points joined by
    commas (`concat_ws` skips the NULL of the others). The same text: the same JSON writer for each
    value; the list of 34 structs a lead built, filtered by a lambda and written whole, cost 0.55 of
    the 0.75 CPU s of a part of 100,000 leads' shaped rows (the b2b example)."""

    def entry(rule: str, dimension: str, points: str, events: str | None) -> str:
        head = f"CAST(to_json(struct_pack(rule := {rule}, dimension := {dimension})) AS VARCHAR)"
        # the object without its closing brace, then the points (every entry has a rule and a dimension)
        parts = [f"rtrim({head}, '}}')", "',\"points\":'", f"CAST(to_json({points}) AS VARCHAR)"]
        if events is not None:  # (a NULL count has no key, as `replace` of `"events":null` left it)
            parts.append(f"coalesce(',\"events\":' || CAST({events} AS VARCHAR), '')")
        parts.append("'}'")
        return f"(CASE WHEN {points} <> 0 THEN {' || '.join(parts)} END)"

    items = [
        entry(
            q.text(r.id),
            q.text(r.dimension),
            f"points_{i}",
            f"CAST(events_{i} AS BIGINT)" if r.events is not None else None,
        )
        for i, r in enumerate(plan.rules)
    ]
    for j, d in enumerate(plan.dimensions):
        cap, floor = (entry(q.text(f"{k}:{d}"), q.text(d), f"adjust_{j}", None) for k in ("cap", "floor"))
        items.append(f"(CASE WHEN adjust_{j} < 0 THEN {cap} ELSE {floor} END)")
    return "'[' || concat_ws(',', " + ", ".join(items) + ") || ']'" if items else "'[]'"


def common_columns(model: ScoringModel, version: str, plan: QueryPlan, at: int, *, json: bool) -> list[tuple[str, str]]:
    """(name, SQL) of every result column but the breakdown, in `Result.to_dict()`'s order (the
    breakdown goes before `playbook`): shared by the list and the columns layouts."""
    dims = _struct([(d, f"dim_{j}") for j, d in enumerate(plan.dimensions)])
    if plan.label_sets:
        labels = _struct([(name, f"label_{i}") for i, name in enumerate(plan.label_sets)])
    else:
        labels = "CAST('{}' AS JSON)" if json else "CAST(NULL AS MAP(VARCHAR, VARCHAR))"
    playbook = "CAST(NULL AS VARCHAR)"
    if model.playbooks:
        whens = [f"WHEN {i} THEN {pb}" for i, pb in enumerate(playbook_structs(model))]
        playbook = f"(CASE playbook {' '.join(whens)} END)"
    return [
        ("lead_id", "lead_id"),
        ("at", q.text(to_iso(from_micros(at)))),
        ("model", q.text(model.name)),
        ("model_version", q.text(version)),
        ("score", "score"),
        ("dimensions", dims),
        ("labels", labels),
        ("stage", "stage"),
        ("playbook", playbook),
    ]


def playbook_structs(model: ScoringModel) -> list[str]:
    """Each playbook of the model as a struct of constants, in `Result.to_dict()`'s shape."""
    structs = []
    for p in model.playbooks:
        content = "[" + ", ".join(q.text(c) for c in p.content) + "]" if p.content else "CAST([] AS VARCHAR[])"
        structs.append(
            _struct(
                [
                    ("name", q.literal(p.name) if p.name is not None else "CAST(NULL AS VARCHAR)"),
                    ("action", q.text(p.action)),
                    ("priority", f"CAST({p.priority} AS BIGINT)" if p.priority is not None else "CAST(NULL AS BIGINT)"),
                    ("content", content),
                ]
            )
        )
    return structs


def select(columns: list[tuple[str, str]], source: str) -> str:
    return f"SELECT {', '.join(sql if sql == name else f'{sql} AS {name}' for name, sql in columns)} FROM {source}"


def result_from_row(model: ScoringModel, version: str, plan: QueryPlan, at: int, row: dict[str, object]) -> dict:
    """One flat query row as `Result.to_dict()` gives it (for engines whose rows come back to Python)."""
    breakdown: list[dict[str, object]] = []
    for i, r in enumerate(plan.rules):
        points = float(row[f"points_{i}"])  # type: ignore[arg-type]
        if points != 0.0:
            entry: dict[str, object] = {"rule": r.id, "dimension": r.dimension, "points": points}
            if r.events is not None:
                entry["events"] = int(row[f"events_{i}"])  # type: ignore[call-overload]
            breakdown.append(entry)
    for j, d in enumerate(plan.dimensions):
        adj = float(row[f"adjust_{j}"])  # type: ignore[arg-type]
        if adj != 0.0:
            breakdown.append({"rule": f"{'cap' if adj < 0 else 'floor'}:{d}", "dimension": d, "points": adj})
    playbook = None
    index = row.get("playbook")
    if index is not None:
        p = model.playbooks[int(index)]  # type: ignore[call-overload]
        playbook = {"name": p.name, "action": p.action, "priority": p.priority, "content": list(p.content)}
    return {
        "lead_id": row["lead_id"],
        "at": to_iso(from_micros(at)),
        "model": model.name,
        "model_version": version,
        "score": float(row["score"]),  # type: ignore[arg-type]
        "dimensions": {d: float(row[f"dim_{j}"]) for j, d in enumerate(plan.dimensions)},  # type: ignore[arg-type]
        "labels": {name: row[f"label_{i}"] for i, name in enumerate(plan.label_sets)},
        "stage": row["stage"],
        "breakdown": breakdown,
        "playbook": playbook,
    }
