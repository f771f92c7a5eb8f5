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
    breakdown = f"list_filter([{', '.join(entries)}], lambda e: e.points <> 0)"
    if json:
        breakdown = f"replace(CAST(to_json({breakdown}) AS VARCHAR), ',\"events\":null', '')"
        if not text:
            breakdown = f"CAST({breakdown} AS JSON)"
    cols = common_columns(model, version, plan, at, json=json)
    cols.insert(-1, ("breakdown", breakdown))
    return select(cols, source)


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
        whens = []
        for i, p in enumerate(model.playbooks):
            content = "[" + ", ".join(q.text(c) for c in p.content) + "]" if p.content else "CAST([] AS VARCHAR[])"
            pb = _struct(
                [
                    ("name", q.literal(p.name) if p.name is not None else "CAST(NULL AS VARCHAR)"),
                    ("action", q.text(p.action)),
                    ("priority", f"CAST({p.priority} AS BIGINT)" if p.priority is not None else "CAST(NULL AS BIGINT)"),
                    ("content", content),
                ]
            )
            whens.append(f"WHEN {i} THEN {pb}")
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
