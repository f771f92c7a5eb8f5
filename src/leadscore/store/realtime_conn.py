"""The pool's PostgreSQL connection itself, in the driver's autocommit mode, for the real-time paths'
few statements (the intake's append, a result read back).

Through a SQLAlchemy Connection and its isolation-level option, the check-out, the mode's switches
and the check-in cost more CPU than such a statement's execution (a fifth of the append's CPU, a
third of a result's read). Here the mode is a flag of the driver's connection (no statement is
sent), put back as SQLAlchemy lent it: its next transaction begins as any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from leadscore.store.base import LeadStore


@contextmanager
def autocommit_driver(store: LeadStore) -> Iterator[Any]:
    """The psycopg connection of a pooled connection, in autocommit mode until the block ends: each
    statement outside a pipeline commits by itself, and a pipeline's statements up to its Sync are
    one implicit transaction."""
    from psycopg.pq import TransactionStatus  # PostgreSQL's driver: imported only where it is used

    pooled = store.engine.raw_connection()
    raw: Any = pooled.driver_connection
    raw.autocommit = True
    try:
        yield raw
    finally:
        if raw.pgconn.transaction_status == TransactionStatus.IDLE:  # else the connection broke
            raw.autocommit = False
        pooled.close()
