"""A new DuckDB connection for each example of a property test, without a new database each time.

`connect()` (leadscore.batch.duckdb.run) opens a new in-memory database: ~20 ms of CPU and, on a busy
machine, ~0.1 s of wall each, which the property tests of the id passes (tests/batch) and of the SQL
lookups (tests/sql) paid once per example (300 and 800 examples). A cursor of one database kept per
process is a connection of its own: its temporary tables and views and the tables registered on it are
its alone (every object the batch engine makes is TEMP), so each example still starts from an empty
catalog, as with `connect()`. What a connection sets for itself is set again here as `connect()` sets it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from leadscore.batch.duckdb.run import connect

if TYPE_CHECKING:
    import duckdb


@cache
def _database() -> duckdb.DuckDBPyConnection:
    return connect()


def fresh_connection() -> duckdb.DuckDBPyConnection:
    """A connection with nothing of an earlier example's in it (as `connect()` returns one)."""
    con = _database().cursor()
    con.execute("SET TimeZone = 'UTC'")  # a session setting: a cursor starts from the default
    return con
