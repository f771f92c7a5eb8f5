"""The batch engine: the scoring model compiled to one SQL query, run by DuckDB (or Spark) over
Parquet, CSV or in-memory tables, equal lead by lead to the pure scorer (which scores the leads the
SQL cannot decide)."""

from leadscore.batch.engine import BatchRun, BatchStats, run_batch
from leadscore.batch.predicates import NotExpressible
from leadscore.batch.sources import SourceError

__all__ = ["BatchRun", "BatchStats", "NotExpressible", "SourceError", "run_batch"]
