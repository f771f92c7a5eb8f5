"""The batch engine: the scoring model compiled to one SQL query, run by DuckDB (or Spark) over
Parquet, CSV or in-memory tables, equal lead by lead to the pure scorer (which scores the leads the
SQL cannot decide)."""

from leadscore.batch.duckdb.run import BatchRun, BatchStats, run_batch
from leadscore.batch.duckdb.sources import SourceError
from leadscore.sql.predicate_sql import NotExpressible

__all__ = ["BatchRun", "BatchStats", "NotExpressible", "SourceError", "run_batch"]
