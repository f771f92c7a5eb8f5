"""The leads the Spark query cannot decide, scored by the pure scorer on the executors.

Each such lead becomes one row: its attribute slots and the array of its events in input order
(`_ls_ord`). Executors rebuild the domain objects from the typed slots (the first non-null slot of a
property, as `fallback.chunks` does for DuckDB) and score them with the model, which travels pickled
with the task (so `leadscore` must be installed where the executors run). Nothing but the count and
the first bad lead, if any, comes back to the driver.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import from_micros
from leadscore.engine.errors import ScoringDataError
from leadscore.engine.scorer import Scorer
from leadscore.engine.timeline import Timeline
from leadscore.model.spec import ScoringModel
from leadscore.sql.columns import SourceSchema

OUT_SCHEMA = "_ls_json string, _ls_err_lead string, _ls_err string"
# (name, positions of its slots among the row's attribute or property fields)
Slots = list[tuple[str, list[int]]]


def _slots(table: Any) -> tuple[Slots, list[str]]:
    names: Slots = []
    columns: list[str] = []
    for name, slots in table.slots.items():
        names.append((name, list(range(len(columns), len(columns) + len(slots)))))
        columns += [s.column for s in slots]
    return names, columns


def _values(fields: Any, slots: Slots) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if fields is None:  # a lead known only from its events
        return out
    for name, idx in slots:
        v = next((fields[i] for i in idx if fields[i] is not None), None)
        if v is not None:
            out[name] = v
    return out


def _score_rows(
    model: ScoringModel, at_us: int, attrs: Slots, props: Slots, rows: Iterable[Any]
) -> Iterator[tuple[str | None, str | None, str | None]]:
    """(result JSON, None, None) per lead, or (None, lead id, message) for data the model refuses."""
    scorer = Scorer(model)
    for row in rows:
        lead = Lead(str(row["lead_id"]), _values(row["_ls_attrs"], attrs))
        events = [
            Event(lead.id, e["type"], from_micros(int(e["us"])), _values(e["props"], props), e["id"])
            for e in row["_ls_events"] or ()
        ]
        try:
            result = scorer.score_timeline(lead, Timeline(events, until=at_us), at_us)
        except ScoringDataError as exc:
            yield None, exc.lead_id, exc.detail
            continue
        yield json.dumps(result.to_dict(), separators=(",", ":")), None, None


def fallback_rows(spark: Any, ids: Any, schema: SourceSchema) -> tuple[Any, Slots, Slots]:
    """One row per lead listed in `ids` (column lead_id): attributes and events sorted by input
    order. Also the slot positions of each name."""
    from pyspark.sql import functions as F

    attrs, lead_cols = _slots(schema.leads)
    props, prop_cols = _slots(schema.events)
    # semi-joins, not a join with the (possibly repeated) ids: a lead listed twice in the leads is
    # scored twice, as the query rows it came from
    ids = ids.select(F.col("lead_id").cast("string").alias("_ls_fid"))
    lead_rows = (
        spark.table("leads")
        .join(ids, F.col("id") == F.col("_ls_fid"), "left_semi")
        .select(
            F.col("id").alias("lead_id"),
            F.struct(
                F.lit(True).alias("_ls_known"), *(F.col(f"`{c}`").alias(f"a{i}") for i, c in enumerate(lead_cols))
            ).alias("_ls_attrs"),
        )
    )
    event = F.struct(
        F.col("_ls_ord").alias("o"),
        F.unix_micros(F.col("timestamp")).alias("us"),
        F.col("type").alias("type"),
        F.col("id").cast("string").alias("id"),
        F.struct(
            F.lit(True).alias("_ls_present"), *(F.col(f"`{c}`").alias(f"p{i}") for i, c in enumerate(prop_cols))
        ).alias("props"),
    )
    ordered = F.array_sort(
        F.collect_list(event), lambda a, b: F.when(a["o"] < b["o"], -1).when(a["o"] > b["o"], 1).otherwise(0)
    )
    events = (
        spark.table("events")
        .join(ids, F.col("lead_id") == F.col("_ls_fid"), "left_semi")
        .groupBy("lead_id")
        .agg(ordered.alias("_ls_events"))
    )
    # field 0 of each struct is a marker (a struct needs a field): slot i sits at position i + 1
    attrs = [(name, [i + 1 for i in idx]) for name, idx in attrs]
    props = [(name, [i + 1 for i in idx]) for name, idx in props]
    # a lead known only from its events has no row in the leads: its attributes are null
    return lead_rows.join(events, "lead_id", "full"), attrs, props


def score_fallback(spark: Any, ids: Any, schema: SourceSchema, model: ScoringModel, at_us: int) -> Any:
    """A DataFrame of `_ls_json` (the `Result.to_dict()` JSON of each lead) and, for leads whose data
    the model refuses, `_ls_err_lead` / `_ls_err`; computed on the executors."""
    rows, attrs, props = fallback_rows(spark, ids, schema)

    def score_partition(part: Iterable[Any]) -> Iterator[tuple[str | None, str | None, str | None]]:
        return _score_rows(model, at_us, attrs, props, part)

    return spark.createDataFrame(rows.rdd.mapPartitions(score_partition), OUT_SCHEMA)
