"""The layouts of batch results in Parquet: the breakdown as one numeric column per rule and dimension
(`columns`), or no per-rule breakdown at all (`dimensions`, the default of `leadscore batch`).

`Result.to_dict()`'s breakdown is a list of entries (rule, dimension, points, events) holding the
rules that gave points. Written to Parquet that list is a nested column of 20 to 30 structs per lead,
built row by row: at 100k leads it cost 0.35 to 0.4 CPU s to write, against 0.02 for the five
columns of a hand-written query. The columns layout (the default for `leadscore batch` Parquet
output) holds the same information in plain columns, which Parquet writes and every reader scans
column by column (`SELECT points."pricing-page" FROM ...`, `df["points"]`):

- `points`: a struct with one DOUBLE field per rule, in the model's order (0.0 when it gave none);
- `events`: a struct with one BIGINT field per event rule: the events it counted, NULL when the rule
  gave no points (the breakdown lists only the rules that gave points, so that the pure scorer's
  results, written in the same file, say the same);
- `adjustments`: a struct with one DOUBLE field per dimension: what its cap (negative) or floor
  (positive) changed, 0.0 when neither applied.

The other columns are those of the list layout (`result_shape.common_columns`). `result_dict` turns a
row back into `Result.to_dict()`; `columns_row` turns a `Result.to_dict()` into a row.

The dimensions layout is those other columns alone: the score, the score of each dimension (the
coarse explanation), labels, stage and playbook. Writing the per-rule columns cost 25 ns a value in
DuckDB's Parquet writer whatever the encoding (2 CPU s for 1M leads of a 32-rule model: a fifth of the
whole run, ten times the writing of a hand-written query's five columns), and holding them in the
result table about as much again: a run that writes only this layout does not compute them
(`BatchRun(breakdown=False)`). `dimensions_row` turns a `Result.to_dict()` into its row.
"""

from __future__ import annotations

from typing import Any

from leadscore.model.spec import EventRule, ScoringModel
from leadscore.sql.query import QueryPlan
from leadscore.sql.result_shape import _struct, common_columns, select


def columns_sql(model: ScoringModel, version: str, plan: QueryPlan, at: int, source: str) -> str:
    """SELECT over `source` (the materialized query) giving one result per lead in the columns layout."""
    points = _struct([(r.id, f"points_{i}") for i, r in enumerate(plan.rules)]) if plan.rules else _EMPTY
    counted = [
        (r.id, f"(CASE WHEN points_{i} <> 0 THEN CAST(events_{i} AS BIGINT) END)")
        for i, r in enumerate(plan.rules)
        if r.events is not None
    ]
    events = _struct(counted) if counted else _EMPTY_COUNTS
    adjustments = _struct([(d, f"adjust_{j}") for j, d in enumerate(plan.dimensions)])
    cols = common_columns(model, version, plan, at, json=False)
    cols[-1:-1] = [("points", points), ("events", events), ("adjustments", adjustments)]
    return select(cols, source)


def dimensions_sql(model: ScoringModel, version: str, plan: QueryPlan, at: int, source: str) -> str:
    """SELECT over `source` giving one result per lead in the dimensions layout (no per-rule columns)."""
    return select(common_columns(model, version, plan, at, json=False), source)


def dimensions_row(result: dict[str, Any]) -> dict[str, Any]:
    """A `Result.to_dict()` as a row of the dimensions layout (for the pure scorer's results)."""
    row = {k: v for k, v in result.items() if k != "breakdown"}
    if not row["labels"]:
        row["labels"] = None  # as the query's rows write no label set: a NULL map
    return row


# a model without rules, or without event rules: a struct needs a field, so the column is an empty map
_EMPTY = "CAST(NULL AS MAP(VARCHAR, DOUBLE))"
_EMPTY_COUNTS = "CAST(NULL AS MAP(VARCHAR, BIGINT))"


def columns_row(model: ScoringModel, result: dict[str, Any]) -> dict[str, Any]:
    """A `Result.to_dict()` as a row of the columns layout (for the pure scorer's results)."""
    entries = {e["rule"]: e for e in result["breakdown"]}
    row = {k: v for k, v in result.items() if k not in ("breakdown", "playbook")}
    rules = model.rules
    row["points"] = {r.id: float(entries[r.id]["points"]) if r.id in entries else 0.0 for r in rules} or None
    counted = [r.id for r in rules if isinstance(r, EventRule)]
    row["events"] = {rid: entries[rid].get("events") if rid in entries else None for rid in counted} or None
    row["adjustments"] = {
        d: sum(float(entries[f"{kind}:{d}"]["points"]) for kind in ("cap", "floor") if f"{kind}:{d}" in entries)
        for d in model.dimension_names()
    }
    row["playbook"] = result["playbook"]
    if not row["labels"]:
        row["labels"] = None  # the list layout's Parquet writes no label set as a NULL map too
    return row


def result_dict(model: ScoringModel, row: dict[str, Any]) -> dict[str, Any]:
    """A row of the columns layout (as pyarrow's `to_pylist` gives it) as `Result.to_dict()` gives it."""
    points = row.get("points") or {}
    counts = row.get("events") or {}
    breakdown: list[dict[str, Any]] = []
    for r in model.rules:
        if points.get(r.id, 0.0) != 0.0:
            entry: dict[str, Any] = {"rule": r.id, "dimension": r.dimension or "score", "points": points[r.id]}
            if isinstance(r, EventRule):
                entry["events"] = counts[r.id]
            breakdown.append(entry)
    for d, adj in (row.get("adjustments") or {}).items():
        if adj != 0.0:
            breakdown.append({"rule": f"{'cap' if adj < 0 else 'floor'}:{d}", "dimension": d, "points": adj})
    out = {k: v for k, v in row.items() if k not in ("points", "events", "adjustments", "playbook")}
    out["labels"] = out.get("labels") or {}
    out["breakdown"] = breakdown
    out["playbook"] = row.get("playbook")
    return out
