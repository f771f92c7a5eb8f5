"""The result shape of `Result.to_dict()` built from the Spark query's positional columns, in Spark.

The same semantics as `shape.result_from_row` (which shapes rows in Python): the breakdown lists the
rules with non-zero points in model order, then the `cap:<dim>` / `floor:<dim>` adjustments; labels
are a struct of label sets (an empty map when the model has none); the playbook is a struct or null.

As Parquet, a condition rule's breakdown entry has `events` = null (a column must have one type).
As JSON Lines, it has no `events` key, like `BreakdownEntry.to_dict`: Spark's `to_json` drops null
fields everywhere or nowhere, so the breakdown is rendered on its own (dropping nulls: only `events`
can be null there) and spliced into the rest of the object (keeping nulls: `stage`, a label, the
playbook and its name or priority are null in `to_dict`, not absent).
"""

from __future__ import annotations

from typing import Any

from leadscore.domain.timeutil import from_micros, to_iso
from leadscore.model.spec import ScoringModel
from leadscore.sql.query import QueryPlan

PLAYBOOK_TYPE = "struct<name:string,action:string,priority:bigint,content:array<string>>"


def shaped(df: Any, model: ScoringModel, version: str, plan: QueryPlan, at: int) -> Any:
    """The query's rows (a DataFrame) as one result struct per lead, columns in `to_dict` order."""
    from pyspark.sql import functions as F

    def entry(rule: Any, dimension: str, points: Any, events: Any) -> Any:
        return F.struct(
            rule.alias("rule"),
            F.lit(dimension).alias("dimension"),
            points.cast("double").alias("points"),
            events.cast("bigint").alias("events"),
        )

    entries = [
        entry(
            F.lit(r.id),
            r.dimension,
            F.col(f"points_{i}"),
            F.col(f"events_{i}") if r.events is not None else F.lit(None),
        )
        for i, r in enumerate(plan.rules)
    ]
    for j, d in enumerate(plan.dimensions):
        adjust = F.col(f"adjust_{j}")
        name = F.when(adjust < 0, F.lit(f"cap:{d}")).otherwise(F.lit(f"floor:{d}"))
        entries.append(entry(name, d, adjust, F.lit(None)))
    if entries:
        breakdown = F.filter(F.array(*entries), lambda e: e["points"] != 0)
    else:
        breakdown = F.array().cast("array<struct<rule:string,dimension:string,points:double,events:bigint>>")

    if plan.dimensions:
        dims = F.struct(*(F.col(f"dim_{j}").cast("double").alias(d) for j, d in enumerate(plan.dimensions)))
    else:
        dims = F.create_map().cast("map<string,double>")
    if plan.label_sets:
        labels = F.struct(*(F.col(f"label_{i}").cast("string").alias(n) for i, n in enumerate(plan.label_sets)))
    else:
        labels = F.create_map().cast("map<string,string>")

    playbook = F.lit(None).cast(PLAYBOOK_TYPE)
    for i, p in reversed(list(enumerate(model.playbooks))):
        content = F.array(*(F.lit(c) for c in p.content)) if p.content else F.array()
        match = F.struct(
            F.lit(p.name).cast("string").alias("name"),
            F.lit(p.action).cast("string").alias("action"),
            F.lit(p.priority).cast("bigint").alias("priority"),
            content.cast("array<string>").alias("content"),
        )
        playbook = F.when(F.col("playbook") == i, match).otherwise(playbook)

    return df.select(
        F.col("lead_id").cast("string").alias("lead_id"),
        F.lit(to_iso(from_micros(at))).alias("at"),
        F.lit(model.name).alias("model"),
        F.lit(version).alias("model_version"),
        F.col("score").cast("double").alias("score"),
        dims.alias("dimensions"),
        labels.alias("labels"),
        F.col("stage").cast("string").alias("stage"),
        breakdown.alias("breakdown"),
        playbook.alias("playbook"),
    )


def json_lines(results: Any) -> Any:
    """One column `value`: each result as the JSON object `json.dumps(result.to_dict())` gives
    (same keys and values; `breakdown` comes last)."""
    from pyspark.sql import functions as F

    rest = [F.col(c) for c in results.columns if c != "breakdown"]
    head = F.to_json(F.struct(*rest), {"ignoreNullFields": "false"})
    breakdown = F.to_json(F.col("breakdown"), {"ignoreNullFields": "true"})
    # `head` is a JSON object: drop its closing brace and append the breakdown as the last key
    line = F.concat(
        F.expr("substring(_ls_head, 1, length(_ls_head) - 1)"), F.lit(',"breakdown":'), breakdown, F.lit("}")
    )
    return results.withColumn("_ls_head", head).select(line.alias("value"))


def write(results: Any, path: str, fmt: str) -> None:
    """Spark's own writers, overwriting `path`: a directory of Parquet or JSON Lines part files."""
    if fmt == "parquet":
        results.write.mode("overwrite").parquet(path)
    else:
        json_lines(results).write.mode("overwrite").text(path)
