"""The scoring query on Apache Spark (the optional `[spark]` extra), for data past one machine.

The query is the one `leadscore sql --dialect spark` prints, run through `spark.sql` over the Parquet
inputs. Input order (for duplicates and ties) is (file, row index in the file), from Spark's file
metadata. Flat rows come back to the driver to be shaped and written, and the leads the SQL cannot
decide are scored by the pure scorer there, as with DuckDB.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from leadscore.batch.dialects import spark_sql
from leadscore.batch.engine import BatchStats
from leadscore.batch.schema import RESERVED_EVENT_COLUMNS, RESERVED_LEAD_COLUMNS, SourceSchema, TableSchema
from leadscore.batch.shape import result_from_row
from leadscore.batch.sources import SourceError
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import from_micros, parse_timestamp, to_micros
from leadscore.engine.scorer import Scorer
from leadscore.model.fingerprint import model_version
from leadscore.model.spec import ScoringModel


class SparkUnavailable(RuntimeError):
    """pyspark (or Java) is missing: install the `[spark]` extra."""


def session(master: str = "local[2]") -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable("--engine spark needs pyspark: pip install 'leadscore[spark]'") from None
    return (
        SparkSession.builder.master(master)
        .appName("leadscore-batch")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(max(2, (os.cpu_count() or 2) * 2)))
        .getOrCreate()
    )


def _files(path: Path) -> list[str]:
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*.parquet"))
    elif path.suffix.lower() == ".parquet" and path.exists():
        files = [str(path)]
    else:
        raise SourceError(f"{path}: --engine spark reads Parquet files or directories of them")
    if not files:
        raise SourceError(f"{path}: no .parquet files")
    return files


def _register(spark: Any, leads: Path, events: Path) -> SourceSchema:
    from pyspark.sql import functions as F

    ldf = spark.read.parquet(*_files(leads))
    key = "id" if "id" in ldf.columns else "lead_id" if "lead_id" in ldf.columns else None
    if key is None:
        raise SourceError(f"{leads}: the leads need an `id` (or `lead_id`) column")
    ldf = ldf.withColumn("_ls_key", F.col(key).cast("string")).drop(*[c for c in ("id", "lead_id") if c in ldf.columns])
    ldf = ldf.withColumnRenamed("_ls_key", "id")
    files = _files(events)
    edf = spark.read.parquet(*files).select("*", "_metadata.file_path", "_metadata.row_index")
    missing = [c for c in ("lead_id", "type", "timestamp") if c not in edf.columns]
    if missing:
        raise SourceError(f"{events}: the events need the column(s) {', '.join(missing)}")
    rank = F.array_position(F.array(*[F.lit(Path(f).resolve().as_uri()) for f in files]), F.col("file_path"))
    edf = (
        edf.withColumn("_ls_ord", rank.cast("long") * F.lit(1 << 40) + F.col("row_index"))
        .drop("file_path", "row_index")
        .withColumn("lead_id", F.col("lead_id").cast("string"))
        .withColumn("type", F.col("type").cast("string"))
        .withColumn("timestamp", F.col("timestamp").cast("timestamp"))
    )
    if "id" not in edf.columns:
        edf = edf.withColumn("id", F.lit(None).cast("string"))
    ldf.createOrReplaceTempView("leads")
    edf.createOrReplaceTempView("events")
    return SourceSchema(
        events=TableSchema.from_columns(edf.dtypes, RESERVED_EVENT_COLUMNS),
        leads=TableSchema.from_columns(ldf.dtypes, RESERVED_LEAD_COLUMNS),
        has_event_id=True,
        has_ord=True,
    )


def _fallback(spark: Any, schema: SourceSchema, ids: list[str]) -> tuple[list[Lead], list[Event]]:
    spark.createDataFrame([(i,) for i in ids], "lead_id string").createOrReplaceTempView("_ls_fb_ids")
    leads: list[Lead] = []
    for row in spark.sql("SELECT * FROM leads WHERE id IN (SELECT lead_id FROM _ls_fb_ids)").collect():
        d = row.asDict()
        attrs = {
            name: v
            for name, slots in schema.leads.slots.items()
            for v in [next((d[s.column] for s in slots if d.get(s.column) is not None), None)]
            if v is not None
        }
        leads.append(Lead(str(d["id"]), attrs))
    known = {lead.id for lead in leads}
    leads += [Lead(i) for i in ids if i not in known]
    events: list[Event] = []
    rows = spark.sql(
        "SELECT *, UNIX_MICROS(`timestamp`) AS _ls_us FROM events "
        "WHERE lead_id IN (SELECT lead_id FROM _ls_fb_ids) ORDER BY _ls_ord"
    ).collect()
    for row in rows:
        d = row.asDict()
        props = {
            name: v
            for name, slots in schema.events.slots.items()
            for v in [next((d[s.column] for s in slots if d.get(s.column) is not None), None)]
            if v is not None
        }
        events.append(Event(d["lead_id"], d["type"], from_micros(int(d["_ls_us"])), props, d.get("id")))
    return leads, events


def run_spark(
    model: ScoringModel,
    leads: str | Path,
    events: str | Path,
    at: datetime | str,
    out: str | Path,
    *,
    spark: Any = None,
    dedupe: bool = True,
) -> BatchStats:
    """Score every lead with Spark SQL and write `out` (.jsonl or .parquet), like `run_batch`."""
    t0 = time.perf_counter()
    spark = spark or session()
    at_us = to_micros(parse_timestamp(at))
    schema = _register(spark, Path(leads), Path(events))
    sql, plan = spark_sql(model, schema, at_us, dedupe=dedupe)
    rows = [r.asDict() for r in spark.sql(sql).collect()]
    stats = BatchStats(leads=len(rows), events=sum(int(r["n_events"]) for r in rows))
    stats.seconds["query"] = time.perf_counter() - t0
    version = model_version(model)
    results = [result_from_row(model, version, plan, at_us, r) for r in rows if not r["fallback"]]
    ids = [str(r["lead_id"]) for r in rows if r["fallback"]]
    stats.fallback_leads = len(ids)
    if ids:
        t = time.perf_counter()
        fb_leads, fb_events = _fallback(spark, schema, ids)
        results += [r.to_dict() for r in Scorer(model).score_many(fb_leads, fb_events, from_micros(at_us))]
        stats.seconds["fallback"] = time.perf_counter() - t
        stats.fallback_reason = "lifecycle replay depends on scores or events at each event's time"
    t = time.perf_counter()
    _write(results, Path(out))
    stats.seconds["write"] = time.perf_counter() - t
    return stats


def _write(results: list[dict[str, Any]], path: Path) -> None:
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = [{**r, "breakdown": [{"events": None, **e} for e in r["breakdown"]]} for r in results]
        pq.write_table(pa.Table.from_pylist(rows), path)
        return
    with path.open("w", encoding="utf-8") as fh:
        for r in results:
            fh.write(json.dumps(r, separators=(",", ":")) + "\n")
