"""A query's rows out of a PostgreSQL store into Arrow, through the ADBC PostgreSQL driver.

The driver streams the rows as `COPY ... (FORMAT binary)` and decodes them into Arrow columns in C++:
at a million leads the funnel's 1.85M stage moves cost about 0.55 s of CPU (this process and the
server together), against 2.3-2.8 s through psycopg's `COPY ... (FORMAT csv)` and Arrow's CSV reader
(`bulk.export`), where the driver hands over the rows one at a time to Python. The driver is part of
the `postgres` extra; without it the reports read through `COPY` as before (`available`).

Its connection is its own (libpq's, opened from the store's URL): like the store's other readers it
sees the database as committed when the query starts.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa


def available() -> bool:
    """Whether the ADBC PostgreSQL driver is installed."""
    try:
        return importlib.util.find_spec("adbc_driver_postgresql") is not None
    except (ImportError, ValueError):
        return False


def libpq_uri(url: sa.URL) -> str:
    """The store's SQLAlchemy URL as the URI libpq reads (the same host, user, password, database
    and connection parameters, without SQLAlchemy's driver name)."""
    found: Any = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return str(found)


def read_postgres(url: sa.URL, sql: str, schema: pa.Schema) -> pa.Table:
    """The rows of `sql` (parameters inlined) as one Arrow table of `schema`, read from the database
    of `url` (the store engine's).

    Through the driver manager's own API rather than its DB-API module, which imports
    `pyarrow.dataset` and pandas (0.3 s of CPU, more than most reads here cost)."""
    import adbc_driver_manager as adbc
    import adbc_driver_postgresql
    import pyarrow as pa

    with (
        adbc_driver_postgresql.connect(libpq_uri(url)) as db,
        adbc.AdbcConnection(db) as conn,
        adbc.AdbcStatement(conn) as stmt,
    ):
        stmt.set_sql_query(sql)
        handle, _ = stmt.execute_query()
        with pa.RecordBatchReader._import_from_c(handle.address) as batches:
            table = batches.read_all()
    if table.schema.names != schema.names:
        table = table.rename_columns(schema.names)
    return table if table.schema == schema else table.cast(schema)
