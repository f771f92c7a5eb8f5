"""The storage interface and its registry of backends by short name ("sqlite", "postgres").

One SQLAlchemy Core code path serves both databases; a backend only says how to connect, how to
take write locks, and how to write "insert, ignoring duplicates" / "upsert" in its dialect.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

#: The columns that identify a stored event: ids are per lead (the lead the event arrived under).
EVENT_IDENTITY = ("event_key", "received_lead_id")


class StoreError(Exception):
    """A store that cannot be used as configured (bad URL, unknown backend, not migrated)."""


class LeadStore(ABC):
    """A database holding leads, events, results and their history."""

    name: ClassVar[str]

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = self._create_engine(url)

    # -- what a backend provides ------------------------------------------------------------------
    @abstractmethod
    def _create_engine(self, url: str) -> Engine: ...

    @abstractmethod
    def lock_leads(self, conn: Connection, lead_ids: Sequence[str]) -> None:
        """Hold the given (existing) leads until the transaction ends, so writers never lose updates."""

    @abstractmethod
    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which has `on_conflict_do_nothing` / `on_conflict_do_update`."""

    @abstractmethod
    def _is_retryable(self, exc: DBAPIError) -> bool:
        """A lock timeout or deadlock that a fresh attempt of the same transaction can get past."""

    # -- shared --------------------------------------------------------------------------------------
    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading; on SQLite its transaction is DEFERRED, so it never waits (WAL)."""
        with self.engine.connect().execution_options(leadscore_read=True) as conn:
            yield conn

    def transact(self, work: Callable[[Connection], T], attempts: int = 8) -> T:
        """Run `work` in one write transaction, again from scratch when the database asks to retry.

        `work` must not have effects outside the transaction, so a retry is always safe.
        """
        for attempt in range(attempts):
            try:
                with self.write() as conn:
                    return work(conn)
            except DBAPIError as exc:
                if attempt == attempts - 1 or not self._is_retryable(exc):
                    raise
                time.sleep(0.05 * (2**attempt))
        raise AssertionError("unreachable")

    def insert_new_events(self, conn: Connection, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """Append event rows, in order, whose identities (key, received lead) were not stored when checked
        under this transaction's locks; returns the identities inserted (one another writer stored
        meanwhile is skipped)."""
        from leadscore.store.tables import events

        stmt = (
            self.insert(events)
            .on_conflict_do_nothing(index_elements=list(EVENT_IDENTITY))
            .returning(events.c.event_key, events.c.received_lead_id)
        )
        new: set[tuple[str, str]] = set()
        for start in range(0, len(rows), 5000):
            new.update((key, lead) for key, lead in conn.execute(stmt, rows[start : start + 5000]))
        return new

    def insert_ignore(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.execute(self.insert(table).on_conflict_do_nothing(), rows)

    def scrub(self) -> bool:
        """Make deleted rows unreadable from the database's files where the backend can do it at
        once (SQLite); True when done. PostgreSQL reclaims them at its next VACUUM."""
        return True

    def upgrade(self) -> None:
        from leadscore.store.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


_BACKENDS: dict[str, type[LeadStore]] = {}
_SCHEMES: dict[str, str] = {}


def register_backend(name: str, cls: type[LeadStore], *schemes: str) -> None:
    """Make a backend available by short name and by the URL schemes it serves."""
    _BACKENDS[name] = cls
    for scheme in (name, *schemes):
        _SCHEMES[scheme] = name


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def open_store(url: str) -> LeadStore:
    """The store at `url` (`sqlite:///path.db`, `postgresql://...`), migrated or not."""
    import leadscore.store.backends  # noqa: F401  (registers the built-in backends)

    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    name = _SCHEMES.get(scheme)
    if name is None:
        known = ", ".join(sorted(_SCHEMES))
        raise StoreError(f"unknown store URL {url!r}: the scheme {scheme!r} is none of {known}")
    return _BACKENDS[name](url)
