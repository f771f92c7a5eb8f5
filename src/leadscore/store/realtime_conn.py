"""The pool's PostgreSQL connection itself, in the driver's autocommit mode, for the real-time paths'
few statements (the intake's append, a result read back).

Through a SQLAlchemy Connection and its isolation-level option, the check-out, the mode's switches
and the check-in cost more CPU than such a statement's execution (a fifth of the append's CPU, a
third of a result's read). Here the mode is a flag of the driver's connection (no statement is
sent), put back as SQLAlchemy lent it: its next transaction begins as any other.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from leadscore.store import backends
from leadscore.store.base import LeadStore
from leadscore.store.retry import sqlite_busy


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


class HeldDriver:
    """One pooled connection's driver connection, held by one thread across its transactions (the API's
    group committer: every real-time append is one short transaction on it).

    Checking a connection out of the pool and back in for each append (SQLAlchemy's bookkeeping, its
    events, the mode's switches; on SQLite its `Connection` and `begin()` too) cost about as much CPU
    as the append's statements. Held here, the connection is given back to the pool when it sat idle
    for `PING_IDLE_S` (the pool's checkout then pings it, as it pings any idle connection, and a
    connection a server restart dropped is replaced) and when its holder closes; one that broke in
    use (`broken`) is thrown away (`drop`) and the next use checks out another.

    PostgreSQL's is in autocommit (see `autocommit_driver`); SQLite's has no busy timeout while held:
    its holder looks for the write lock itself (`queued_append.append_queued`), and it is put back as
    the pool lent it. Not thread-safe: one holder.
    """

    def __init__(self, store: LeadStore) -> None:
        self.store = store
        self.sqlite = store.engine.dialect.paramstyle == "qmark"
        self._pooled: Any = None
        self._used = 0.0

    @staticmethod
    def fits(store: LeadStore) -> bool:
        """PostgreSQL, or an SQLite file (an in-memory database's pool shares its one connection)."""
        return store.engine.dialect.paramstyle != "qmark" or store.sqlite_file() is not None

    def get(self) -> Any:
        """The driver connection, checked out first if none is held or the held one sat idle."""
        now = time.monotonic()
        if self._pooled is not None and now - self._used > backends.PING_IDLE_S:
            self.release()
        if self._pooled is None:
            pooled = self.store.engine.raw_connection()
            raw: Any = pooled.driver_connection
            if self.sqlite:
                raw.execute("PRAGMA busy_timeout=0")
            else:
                raw.autocommit = True
            self._pooled = pooled
        self._used = now
        return self._pooled.driver_connection

    def drop(self) -> None:
        """Throw the held connection away (it broke): the pool opens a new one when next asked."""
        if self._pooled is not None:
            pooled, self._pooled = self._pooled, None
            with contextlib.suppress(Exception):
                pooled.invalidate()

    def release(self) -> None:
        """Give the held connection back to the pool as it was lent (nothing held afterwards)."""
        if self._pooled is None:
            return
        pooled, self._pooled = self._pooled, None
        try:
            raw = pooled.driver_connection
            if self.sqlite:
                raw.execute(f"PRAGMA busy_timeout={int(backends.BUSY_TIMEOUT_S * 1000)}")
            else:
                from psycopg.pq import TransactionStatus

                if raw.pgconn.transaction_status != TransactionStatus.IDLE:  # broken: not reusable
                    pooled.invalidate()
                    return
                raw.autocommit = False
        except Exception:  # a connection that cannot be put back as it was is not reused
            pooled.invalidate()
            return
        pooled.close()

    close = release


LOOK_EVERY_S = 0.001


def begin_immediate(raw: Any) -> None:
    """BEGIN IMMEDIATE on a held SQLite connection (no busy timeout): the write lock looked for every
    millisecond, as `pending.writer_turn`'s turn-holder looks for it, rather than in SQLite's busy
    handler, whose sleeps grow to 100 ms; given up with SQLite's busy error after `BUSY_TIMEOUT_S`."""
    deadline = time.monotonic() + backends.BUSY_TIMEOUT_S
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except Exception as exc:
            if not sqlite_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(LOOK_EVERY_S)


def broken(raw: Any) -> bool:
    """Whether a driver connection can no longer be used (PostgreSQL's dropped by the server)."""
    return bool(getattr(raw, "broken", False) or getattr(raw, "closed", False))
