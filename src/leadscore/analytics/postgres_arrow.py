"""A query's rows out of a PostgreSQL store into Arrow, through the ADBC PostgreSQL driver: the reports'
name for `bulk.adbc_postgres`, which the bulk export reads the events with too.

At a million leads the funnel's 1.85M stage moves cost about 0.55 s of CPU (this process and the
server together) through it, against 2.3-2.8 s through psycopg's `COPY ... (FORMAT csv)` and Arrow's
CSV reader. Without the driver (`available`) the reports read through `COPY` as before.
"""

from __future__ import annotations

from leadscore.bulk.adbc_postgres import available, libpq_uri, read_postgres

__all__ = ["available", "libpq_uri", "read_postgres"]
