"""The scoring query on Apache Spark (the optional `[spark]` extra), for data past one machine.

The query is the one `leadscore sql --dialect spark` prints, run through `spark.sql` over the Parquet
inputs. Input order (for duplicates and ties) is (file, row index in the file), from Spark's file
metadata. Everything happens on the executors: the rows are shaped into results by Spark expressions
(`spark_shape`), the leads the SQL cannot decide are scored by the pure scorer in Python tasks
(`spark_fallback`), and Spark's writers write the output. Only the counts of `BatchStats` (and the
first lead whose data the model refuses, if any) reach the driver.

The output is, as every Spark job writes it, a *directory* of part files named like the `--out` path:
`X.parquet/part-*.parquet` or `X.jsonl/part-*.txt` (one result per line, as `Result.to_dict()` in
JSON). DuckDB reads it back with `read_parquet('X.parquet/*.parquet')` or
`read_json('X.jsonl/part-*', format = 'newline_delimited')`.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from leadscore.batch.duckdb.file_schemas import differing_message, differing_types, list_files
from leadscore.batch.duckdb.number_checks import check_spark_numbers
from leadscore.batch.duckdb.run import BatchStats
from leadscore.batch.duckdb.sources import SourceError, missing_columns
from leadscore.batch.spark.fallback import score_fallback
from leadscore.batch.spark.shape import shaped, write
from leadscore.domain.timeutil import parse_timestamp, to_micros
from leadscore.engine.errors import ScoringDataError
from leadscore.model.fingerprint import model_version
from leadscore.model.spec import ScoringModel
from leadscore.sql.columns import RESERVED_EVENT_COLUMNS, RESERVED_LEAD_COLUMNS, SourceSchema, TableSchema
from leadscore.sql.dialects import spark_sql
from leadscore.sql.lookups import Lookups
from leadscore.sql.predicate_sql import NotExpressible


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
        files = list_files(path)  # as the reader lists them: its .parquet files, not its sub-directories
    elif path.suffix.lower() == ".parquet" and path.exists():
        files = [str(path)]
    else:
        raise SourceError(f"{path}: --engine spark reads Parquet files or directories of them")
    if not files:
        raise SourceError(f"{path}: no .parquet files")
    import duckdb

    # Spark merges the files' columns by name (`_read`) into one type per column: where two files store
    # a column as different kinds of value, the run would see them changed, so it is refused instead
    with duckdb.connect() as con:
        differing = differing_types(con, files)
    if differing is not None:
        raise SourceError(f"{path}: {differing_message(differing)}; store it as one type in every file")
    return files


def _read(spark: Any, files: list[str]) -> Any:
    """The files as one DataFrame with every file's columns (by default Spark takes one file's)."""
    return spark.read.option("mergeSchema", "true").parquet(*files)


def _register(spark: Any, leads: Path, events: Path) -> SourceSchema:
    from pyspark.sql import functions as F

    ldf = _read(spark, _files(leads))
    key = "id" if "id" in ldf.columns else "lead_id" if "lead_id" in ldf.columns else None
    if key is None:
        raise missing_columns(leads, ["id"], ldf.columns, " (or 'lead_id')")
    ldf = ldf.withColumn("_ls_key", F.col(key).cast("string")).drop(*[c for c in ("id", "lead_id") if c in ldf.columns])
    ldf = ldf.withColumnRenamed("_ls_key", "id")
    files = _files(events)
    raw = _read(spark, files)
    missing = [c for c in ("lead_id", "type", "timestamp") if c not in raw.columns]
    if missing:
        raise missing_columns(events, missing, raw.columns)
    edf = raw.select("*", "_metadata.file_path", "_metadata.row_index")
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


def _check_refused(fb: Any) -> None:
    """The pure scorer's refusal of a lead's data, raised on the driver as it is by the other engines."""
    from pyspark.sql import functions as F

    # an aggregate over every partition: it also fills the cache that the writer then reads
    refused = F.when(F.col("_ls_err_lead").isNotNull(), F.struct("_ls_err_lead", "_ls_err"))
    bad = fb.agg(F.min(refused)).collect()[0][0]
    if bad is not None:
        raise ScoringDataError(bad[0], bad[1])


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
    """Score every lead with Spark and write `out`, like `run_batch`; `out` is a directory of part
    files (Parquet when it ends in .parquet, else JSON Lines)."""
    if model.predictive_dimensions():
        raise NotExpressible("predictive dimensions are computed by their trained models, not in Spark")
    path = Path(out)
    fmt = "parquet" if path.suffix.lower() == ".parquet" else "json"
    t0 = time.perf_counter()
    spark = spark or session()  # first: a missing pyspark is SparkUnavailable
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    at_us = to_micros(parse_timestamp(at))
    schema = _register(spark, Path(leads), Path(events))
    check_spark_numbers(spark, model, schema, Path(leads), _files(Path(events)))
    lookups = Lookups("spark")
    sql, plan = spark_sql(model, schema, at_us, dedupe=dedupe, lookups=lookups)
    lookups.register_spark(spark)  # regexes and case folding: the pure scorer's code, as pandas UDFs
    rows = spark.sql(sql).persist(StorageLevel.MEMORY_AND_DISK)
    cached = [rows]
    try:
        fallback = F.coalesce(F.col("fallback"), F.lit(False))
        n, n_events, n_fallback = rows.agg(
            F.count(F.lit(1)), F.sum("n_events"), F.sum(fallback.cast("long"))
        ).collect()[0]
        stats = BatchStats(leads=int(n), events=int(n_events or 0), fallback_leads=int(n_fallback or 0))
        stats.seconds["query"] = time.perf_counter() - t0
        results = shaped(rows.filter(~fallback), model, model_version(model), plan, at_us)
        if stats.fallback_leads:
            t = time.perf_counter()
            fb = score_fallback(spark, rows.filter(fallback), schema, model, at_us)
            fb = fb.persist(StorageLevel.MEMORY_AND_DISK)
            cached.append(fb)
            _check_refused(fb)
            parsed = fb.select(F.from_json("_ls_json", results.schema).alias("r")).select("r.*")
            results = results.unionByName(parsed)
            stats.seconds["fallback"] = time.perf_counter() - t
            stats.fallback_reason = "lifecycle replay depends on scores or events at each event's time"
        t = time.perf_counter()
        write(results, str(path), fmt)
        stats.seconds["write"] = time.perf_counter() - t
    finally:
        for df in cached:
            df.unpersist()
    return stats
