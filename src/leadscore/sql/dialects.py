"""The scoring query for other engines: generated once (DuckDB syntax) and transpiled with sqlglot.

Without data to look at, the kind of each property and attribute column is inferred from the model's
own literals (`category: shoes` -> text, `gt: 250` -> number); a `--schema` Parquet file gives the
real types instead. Differences from the DuckDB engine, stated in the query's header: sums are plain
SUM (not compensated), input order is unknown (duplicates are assumed absent unless `dedupe`, and
ties in time are broken by event id), and the lifecycle fold is a recursive CTE where the dialect has no
array lambdas (`recursive.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, assert_never

from leadscore.domain.timeutil import to_iso
from leadscore.engine.values import kind
from leadscore.model.conditions import (
    AggregateCondition,
    AllCondition,
    AnyCondition,
    AttributeCondition,
    CountCondition,
    LabelCondition,
    LastCondition,
    NoneCondition,
    NotCondition,
    ScoreCondition,
    StageCondition,
)
from leadscore.model.fingerprint import model_version
from leadscore.model.predicates import PredicateFields
from leadscore.model.spec import EventRule, ScoringModel
from leadscore.model.walk import conditions
from leadscore.sql.columns import Kind, Slot, SourceSchema, TableSchema
from leadscore.sql.lookups import Lookups
from leadscore.sql.query import Flavor, QueryPlan, build_query

DIALECTS = ("duckdb", "postgres", "spark", "snowflake", "bigquery")
_EPOCH_US = {
    "spark": "UNIX_MICROS({})",
    "bigquery": "UNIX_MICROS({})",
    "postgres": "CAST(FLOOR(EXTRACT(EPOCH FROM {}) * 1000000) AS BIGINT)",
    "snowflake": "DATE_PART(EPOCH_MICROSECOND, {})",
}


def _pred_kind(pred: PredicateFields) -> Kind | None:
    for key, value in pred.predicate_items():
        if key in ("contains", "matches"):
            return "str"
        if key == "exists":
            continue
        first = value[0] if isinstance(value, list | tuple) and value else value
        k = kind(first)
        if k in ("num", "str", "bool"):
            return k  # type: ignore[return-value]
    return None


def infer_schema(model: ScoringModel) -> SourceSchema:
    """Column kinds guessed from the model's literals; text when the model gives no hint."""
    props: dict[str, Kind] = {}
    attrs: dict[str, Kind] = {}

    def where(w: dict[str, Any]) -> None:
        for prop, pred in w.items():
            props.setdefault(prop, _pred_kind(pred) or "str")

    for rule in model.rules:
        if isinstance(rule, EventRule):
            where(rule.where)
    # the last condition of the file first: where a name is compared with values of several kinds, the last
    # comparison sets its column's kind (the rules' `where:` still come before every condition)
    for cond in reversed(list(conditions(model))):
        match cond:  # the columns each kind reads, and their kinds
            case AttributeCondition():
                attrs.setdefault(cond.attribute, _pred_kind(cond) or "str")
            case AggregateCondition():
                props[cond.property] = "num"
                where(cond.where)
            case CountCondition() | NoneCondition() | LastCondition():
                where(cond.where)
            case ScoreCondition() | LabelCondition() | StageCondition():
                pass  # a result, not a column of the data
            case AllCondition() | AnyCondition() | NotCondition():
                pass  # their conditions come on their own
            case _:
                assert_never(cond)
    if model.lifecycle:
        attrs.setdefault("stage", "str")
        props.setdefault("stage", "str")
    return SourceSchema(
        events=TableSchema({p: (Slot(p, k),) for p, k in props.items()}),
        leads=TableSchema({a: (Slot(a, k),) for a, k in attrs.items()}),
        has_event_id=True,
        has_ord=False,
    )


def _epoch(sql: str, dialect: str) -> str:
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")

    def swap(node: Any) -> Any:
        if isinstance(node, exp.Anonymous) and str(node.this).upper() == "EPOCH_US":
            arg = node.expressions[0].sql(dialect=dialect)
            return sqlglot.parse_one(_EPOCH_US[dialect].format(arg), read=dialect)
        return node

    return tree.transform(swap).sql(dialect=dialect, pretty=True)


def scoring_sql(
    model: ScoringModel, dialect: str, at: int, schema: SourceSchema | None = None, *, dedupe: bool = False
) -> tuple[str, QueryPlan]:
    """The scoring query in `dialect`, over tables `leads` and `events`; one row per lead."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    schema = schema or infer_schema(model)
    flavor: Flavor = "duckdb" if dialect == "duckdb" else "spark" if dialect == "spark" else "portable"
    plan = build_query(model, schema, at, flavor=flavor, dedupe=dedupe)
    if dialect == "duckdb":
        import sqlglot

        return sqlglot.transpile(plan.sql, read="duckdb", write="duckdb", pretty=True)[0], plan
    return _epoch(plan.sql, dialect), plan


def header(model: ScoringModel, plan: QueryPlan, dialect: str, at: datetime) -> str:
    """A comment block naming the query's inputs, its positional columns and its assumptions."""
    lines = [
        f"leadscore scoring query: model {model.name} version {model_version(model)}, at {to_iso(at)}, {dialect}",
        "Reads `leads` (id + attribute columns) and `events` (lead_id, type, timestamp, id + property columns).",
        "Columns: lead_id, score,",
    ]
    lines += [f"  dim_{j}: dimension {d}" for j, d in enumerate(plan.dimensions)]
    for i, r in enumerate(plan.rules):
        lines.append(f"  points_{i}" + (f", events_{i}" if r.events is not None else "") + f": rule {r.id}")
    lines += [f"  adjust_{j}: floor/cap adjustment of {d}" for j, d in enumerate(plan.dimensions)]
    lines += [f"  label_{i}: label set {name}" for i, name in enumerate(plan.label_sets)]
    lines += [
        "  stage, playbook (index into the model's playbooks, NULL: none),",
        "  fallback (TRUE: this lead's stage needs the pure scorer: `leadscore score` for these leads).",
    ]
    if dialect != "duckdb":
        lines.append("Sums are plain SUM; repeated event ids are assumed absent unless generated with --dedupe.")
    return "".join(f"-- {line}\n" for line in lines)


def spark_sql(
    model: ScoringModel, schema: SourceSchema, at: int, *, dedupe: bool = True, lookups: Lookups | None = None
) -> tuple[str, QueryPlan]:
    """The Spark SQL query over registered `leads` / `events` views that carry `_ls_ord`; with
    `lookups`, text predicates without exact SQL call functions the caller registers (`lookups.py`)."""
    plan = build_query(model, schema, at, flavor="spark", dedupe=dedupe, event_leads=True, lookups=lookups)
    return _epoch(plan.sql, "spark"), plan
