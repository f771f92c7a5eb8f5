"""The storage interface and its registry of backends by short name ("sqlite", "postgres").

One SQLAlchemy Core code path serves both databases; a backend only says how to connect, how to
take write locks, and how to write "insert, ignoring duplicates" / "upsert" in its dialect. What
the bulk paths (`leadscore.bulk`, `leadscore.bulk.in_database`) may do with a database is
the backend's to declare too (`bulk`, `in_database_rescore`, the `json_*` SQL, `load_temp`): they
ask the backend, never its name, so a backend that declares nothing gets the pure path and an
error naming it, never another database's SQL.

Backends are registered by class path ("package.module:Class") and imported on first use: this
module imports no backend, so a backend module may import it freely.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from leadscore.store.retry import retrying

T = TypeVar("T")

#: The columns that identify a stored event: ids are per lead (the lead the event arrived under).
EVENT_IDENTITY = ("event_key", "received_lead_id")


class StoreError(Exception):
    """A store that cannot be used as configured (bad URL, unknown backend, not migrated)."""


class LeadStore(ABC):
    """A database holding leads, events, results and their history."""

    name: ClassVar[str]

    # -- what the bulk paths may do (off unless a backend says so) ----------------------------------
    bulk: ClassVar[bool] = False
    """The batch engine may export this store and write results back in bulk (the `json_*` SQL,
    `load_temp` and `drop_temp` below are defined)."""
    in_database_rescore: ClassVar[bool] = False
    """The batch scoring query runs inside this database (`leadscore.bulk.in_database`)."""
    copy_export: ClassVar[bool] = False
    """Query results leave the database through `COPY ... TO STDOUT` (CSV) rather than the driver's cursor."""
    temp_rows_ordered: ClassVar[bool] = False
    """A temporary table gives its rows back in insertion order, so it needs no key and no ORDER BY."""

    # -- the real-time path --------------------------------------------------------------------------
    upsert_locks: ClassVar[bool] = False
    """An upsert that finds its row stored takes the row's lock as `lock_leads` does (PostgreSQL's
    `ON CONFLICT DO UPDATE`): leads are then created and locked by one statement
    (`leads_repo.ensure_locked`)."""

    # -- the rescoring worker ------------------------------------------------------------------------
    drain_gather_s: ClassVar[float] = 0.02
    """How long the rescoring worker, once woken by a commit, waits for more commits before it drains
    (leadscore.app.rescorer): the queued leads of those commits are then rescored in one transaction."""

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

        def once() -> T:
            with self.write() as conn:
                return work(conn)

        return retrying(once, self.retryable, attempts)

    def retryable(self, exc: BaseException) -> bool:
        """A lock timeout or deadlock (`_is_retryable`), raised through SQLAlchemy or by the database
        driver itself: the real-time paths run some statements on the driver's connection, whose
        errors SQLAlchemy never sees, and a deadlock there is as worth another attempt."""
        if isinstance(exc, DBAPIError):
            return self._is_retryable(exc)
        dbapi = self.engine.dialect.loaded_dbapi
        if isinstance(exc, dbapi.Error):
            return self._is_retryable(DBAPIError.instance(None, None, exc, dbapi.Error))  # type: ignore[arg-type]
        return False

    def append_all_new(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> bool:
        """Append every event row (a tuple in `backends.EVENT_COLUMNS` order, the properties as JSON text:
        `events_repo.event_row_tuples`), in order, if none of their identities is stored: True when done;
        False when some were (or the backend does not try), with nothing appended. A bulk intake's rows are new
        but for a retried request, so trying first spares it the key look-up (`insert_new_events` after
        one is the exact path)."""
        return False

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

    # -- the bulk paths' SQL and IO (only for a backend with `bulk`) ---------------------------------
    def sqlite_file(self) -> str | None:
        """The SQLite database file that a connection of another driver (ADBC, in another process) can
        open; None for any other database, or one in memory."""
        return None

    @classmethod
    def json_value_sql(cls, column: str, key: str) -> str | None:
        """SQL: the value of `key` in the JSON column, as JSON text (NULL when absent); None when the
        raw JSON text should be read instead and the keys taken out by DuckDB (faster there)."""
        raise cls._no_bulk("read JSON keys")

    @classmethod
    def json_size_sql(cls, expr: str) -> str:
        """SQL: how many keys the JSON object `expr` has."""
        raise cls._no_bulk("count JSON keys")

    @classmethod
    def json_number_sql(cls, expr: str, key: str) -> str:
        """SQL: the number under `key` of the JSON object `expr`, as a double."""
        raise cls._no_bulk("read JSON numbers")

    @classmethod
    def json_type(cls) -> str:
        """The column type that holds JSON text in a temporary table."""
        raise cls._no_bulk("hold JSON in a temporary table")

    def load_temp(self, raw: Any, ddl: str, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Create the temporary `table` (`ddl`: its CREATE TEMP TABLE) on the driver connection `raw`,
        inside the caller's transaction, and fill it with `rows` (tuples of `columns`)."""
        raise self._no_bulk("load a temporary table")

    def drop_temp(self, raw: Any, table: str) -> None:
        """Drop a temporary table of `load_temp` before the transaction ends."""
        raise self._no_bulk("drop a temporary table")

    def lock_leads_sql(self, conn: Connection, ids_sql: str) -> None:
        """`lock_leads` for the leads whose ids the query `ids_sql` gives."""
        raise self._no_bulk("lock leads by query")

    @classmethod
    def _no_bulk(cls, what: str) -> StoreError:
        return StoreError(f"the {cls.name!r} store backend cannot {what}: it has no bulk path (only the pure one)")


# name -> "module:Class" (imported on first use) or the class itself; URL scheme -> name
_BACKENDS: dict[str, str | type[LeadStore]] = {
    "sqlite": "leadscore.store.backends:SqliteStore",
    "postgres": "leadscore.store.backends:PostgresStore",
}
_SCHEMES: dict[str, str] = {"sqlite": "sqlite", "postgres": "postgres", "postgresql": "postgres"}


def register_backend(name: str, cls: str | type[LeadStore], *schemes: str) -> None:
    """Make a backend available by short name and by the URL schemes it serves; `cls` is the class or
    its path ("package.module:Class"), imported when a store of it is first opened."""
    _BACKENDS[name] = cls
    for scheme in (name, *schemes):
        _SCHEMES[scheme] = name


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def backend_class(name: str) -> type[LeadStore]:
    """The backend registered as `name`, imported if registered by path."""
    entry = _BACKENDS.get(name)
    if entry is None:
        raise StoreError(f"unknown store backend {name!r}: the known ones are {', '.join(backend_names())}")
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        try:
            found = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise StoreError(f"the store backend {name!r} ({entry}) cannot be loaded: {exc}") from exc
        if not (isinstance(found, type) and issubclass(found, LeadStore)):
            raise StoreError(f"the store backend {name!r} ({entry}) is not a LeadStore class")
        _BACKENDS[name] = entry = found
    return entry


def open_store(url: str) -> LeadStore:
    """The store at `url` (`sqlite:///path.db`, `postgresql://...`), migrated or not."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    name = _SCHEMES.get(scheme)
    if name is None:
        known = ", ".join(sorted(_SCHEMES))
        raise StoreError(f"unknown store URL {url!r}: the scheme {scheme!r} is none of {known}")
    return backend_class(name)(url)
