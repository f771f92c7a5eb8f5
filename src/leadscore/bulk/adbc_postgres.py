"""A query's rows out of a PostgreSQL store into Arrow, through the ADBC PostgreSQL driver.

The driver streams the rows as `COPY ... (FORMAT binary)` and decodes them into Arrow columns in C++,
where psycopg's `COPY ... (FORMAT csv)` hands the text to this process, which writes it to a file that
Arrow's CSV reader parses again (`bulk.export`'s other PostgreSQL path): the server formats less (binary
against text) and this process parses nothing. The driver is part of the `postgres` extra; without it
the store is read through `COPY` as before (`available`).

Its connection is its own (libpq's, opened from the store's URL): like the store's other readers it
sees the database as committed when the query starts.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
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


def postgres_batches(url: sa.URL, sql: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The non-empty batches of `sql` (parameters inlined) as `schema` (its names, its types), streamed
    from the database of `url` as the driver decodes them: the server sends the next rows while the
    caller works on these.

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
            for batch in batches:
                if not batch.num_rows:
                    continue
                if batch.schema.names != schema.names:  # (unnamed expressions, duplicate names)
                    batch = batch.rename_columns(schema.names)
                yield batch if batch.schema == schema else batch.cast(schema)


def read_postgres(url: sa.URL, sql: str, schema: pa.Schema) -> pa.Table:
    """The rows of `sql` (parameters inlined) as one Arrow table of `schema`, read from the database
    of `url` (the store engine's)."""
    import pyarrow as pa

    return pa.Table.from_batches(list(postgres_batches(url, sql, schema)), schema=schema)
