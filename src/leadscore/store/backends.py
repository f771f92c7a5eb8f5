"""The built-in backends: embedded SQLite (WAL) and PostgreSQL (psycopg 3).

Each owns its SQL and its capabilities, including what the bulk paths ask of it (see `LeadStore`).
`leadscore.store.base` names them by class path, so this module is imported only when a store of
either kind is opened.
"""

from __future__ import annotations

import json
import json.encoder
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from leadscore.store.base import EVENT_IDENTITY, LeadStore
from leadscore.store.retry import sqlite_busy
from leadscore.store.tables import leads

BUSY_TIMEOUT_S = 60.0
CACHE_KIB = 65536
PAGE_BYTES = 16384  # a new SQLite store's page size (an existing file keeps the one it was made with)
COPY_MIN_ROWS = 500
# up to this many event rows, SQLite inserts them with RETURNING (leadscore.store.ingest skips the key
# look-up for batches of up to `ingest.FEW` rows, which must not exceed it)
RETURNING_ROWS = 64
CONFLICT = ", ".join(EVENT_IDENTITY)
EVENT_COLUMNS = ("event_key", "lead_id", "received_lead_id", "type", "ts", "properties", "ingested_at")


def _json_text() -> Callable[[Any], str]:
    """`json.dumps` with its defaults, without the encoder it builds on every call (two thirds of its
    cost for a small object): the same text, byte for byte. No circular-reference check: properties
    come from JSON or from `leadscore.io.plain`, which build no cycles."""
    make = getattr(json.encoder, "c_make_encoder", None)  # CPython's C encoder; None where it is missing
    if make is None:
        return json.dumps
    ascii_text = json.encoder.encode_basestring_ascii
    # (markers, default, text encoder, indent, key and item separators, sort_keys, skipkeys, allow_nan)
    encode = make(None, json.JSONEncoder().default, ascii_text, None, ": ", ", ", False, False, True)
    return lambda value: "".join(encode(value, 0))


json_text = _json_text()


def event_tuples(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Event rows as the driver takes them, in EVENT_COLUMNS order (properties as JSON text)."""
    text = json_text
    return [
        (
            r["event_key"],
            r["lead_id"],
            r["received_lead_id"],
            r["type"],
            r["ts"],
            text(r["properties"]),
            r["ingested_at"],
        )
        for r in rows
    ]


def values_sql(width: int, count: int, mark: str) -> str:
    """`count` rows of `width` placeholders `mark`, for a multi-row VALUES."""
    row = f"({', '.join([mark] * width)})"
    return ", ".join([row] * count)


# the one INSERT of event rows; `{}`: the VALUES rows (`values_sql`) or a SELECT
INSERT_EVENTS = f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) {{}} ON CONFLICT ({CONFLICT}) DO NOTHING"


def _insert_returning(conn: Connection, rows: list[dict[str, Any]], marks: str) -> set[tuple[str, str]]:
    """A few event rows as one multi-row INSERT in the driver's SQL (`marks`: one row's placeholders),
    skipping stored identities; RETURNING names the rows it stored: one statement in all."""
    sql = INSERT_EVENTS.format("VALUES " + ", ".join([marks] * len(rows))) + " RETURNING event_key, received_lead_id"
    flat = tuple(value for row in event_tuples(rows) for value in row)
    return {(key, lead) for key, lead in conn.exec_driver_sql(sql, flat)}


class SqliteStore(LeadStore):
    """One file, many processes: WAL lets readers run beside the single writer.

    Every write transaction starts with BEGIN IMMEDIATE, taking the write lock at once; a
    deferred transaction that upgrades from read to write can fail with "database is locked"
    however long the busy timeout is, which would lose a batch under concurrent writers.
    """

    name = "sqlite"
    bulk = True
    temp_rows_ordered = True  # rows read back in rowid order: the temporary table needs no index
    # The drain and the API's commits take turns on a file lock (leadscore.store.pending.writer_turn),
    # not in SQLite's busy handler, whose sleeps (1, 2, 5 ... 100 ms) made a 20 ms gather halve the
    # events/s with 8 and 32 clients. Without those sleeps the gather saves what it saves elsewhere:
    # with one client, a drain per event cost the rescoring process 0.5 to 2.7 ms CPU per event, a
    # drain per 20 ms 0.5 to 0.8 (loaded machine; benchmarks/results/api.md).
    drain_gather_s = 0.02

    def _create_engine(self, url: str) -> Engine:
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun below, not by the driver
            cur = dbapi_conn.cursor()
            # 16 KiB pages instead of 4 for a new file (before WAL, which fixes the size; a no-op on a
            # file that exists). Both events indexes take a bulk request's 10,000 events at random
            # places (ids, leads), so its commit writes nearly every page of them to the log, and the
            # log's checkpoint copies them back: with pages four times larger, fewer levels and
            # fewer, larger writes. Whole API runs: the store step's threads 9.2-9.3 µs of CPU per
            # bulk event instead of 10.3-11.5, the rescoring's no dearer (benchmarks/results/api.md)
            cur.execute(f"PRAGMA page_size={PAGE_BYTES}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # a page cache of up to 64 MiB (allocated as used) instead of 2: the event key index takes
            # 10,000 random keys a bulk request, and with 100,000 events stored, their insert cost
            # 5 µs of CPU per event instead of 10 (pages read back from the OS at every miss)
            cur.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            # deleted rows (erase, merge) are overwritten with zeros, whatever the build's default
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = "DEFERRED" if conn.get_execution_options().get("leadscore_read") else "IMMEDIATE"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    def lock_leads(self, conn: Connection, lead_ids: Sequence[str]) -> None:
        """BEGIN IMMEDIATE already holds the database's single write lock."""

    def scrub(self) -> bool:
        """Copy the write-ahead log into the database file and empty it: the log still holds the
        pages as they were before an erase. False when a reader kept part of the log in use."""
        raw = self.engine.raw_connection()  # outside any transaction: a checkpoint cannot run in one
        try:
            cur = raw.cursor()
            busy, _, _ = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            cur.close()
        finally:
            raw.close()
        return not busy

    def insert_new_events(self, conn: Connection, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """One executemany of the driver: the write lock is global, so keys checked absent stay absent.

        A few rows (a real-time event), which the caller inserts without checking their keys first,
        are one multi-row INSERT whose RETURNING names the rows it stored: one statement in all.
        """
        if not rows:
            return set()
        marks = ", ".join("?" for _ in EVENT_COLUMNS)
        if len(rows) <= RETURNING_ROWS:
            return _insert_returning(conn, rows, f"({marks})")
        inserted = conn.exec_driver_sql(INSERT_EVENTS.format(f"VALUES ({marks})"), event_tuples(rows)).rowcount
        if inserted != len(rows):  # only when a caller skipped the check: fall back to the exact path
            raise RuntimeError(f"{len(rows) - inserted} event rows were already stored; check keys before inserting")
        return {(r["event_key"], r["received_lead_id"]) for r in rows}

    def append_all_new(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> bool:
        """The executemany of `insert_new_events` without the key look-up before it, undone when its
        conflict clause skipped a row (the count of rows it stored says so). A 10,000-event request's
        store step: 10.1-10.3 µs of CPU per event instead of 11.7-12.6 (70,000 events stored).

        Undone by deleting the rows numbered past the log's highest before it, not by a savepoint: the
        transaction holds the database's only write lock (BEGIN IMMEDIATE), so those rows are this
        append's and no other, and a new row is numbered one past the highest (`seq` is the rowid, no
        AUTOINCREMENT), so the numbers come out as if nothing had been appended. A savepoint made SQLite
        copy every page the append touched first (its sub-journal, a temporary file): 16 KiB for each
        of the two events indexes' leaves that a request's random ids and leads land on. SQLite alone,
        10,000-row requests: 6.1 -> 6.9 µs per event with it after 60,000 stored, 10.2-10.8 -> 13.1
        after 300,000 (benchmarks/results/api.md).
        Tried: multi-row INSERTs of 500 rows, 10% cheaper than the executemany on a bare table of the same
        indexes, made this store step 2 µs per event dearer (10.6-10.8 against 8.4-8.7)."""
        if len(rows) <= RETURNING_ROWS:
            return False
        before = conn.exec_driver_sql("SELECT coalesce(max(seq), 0) FROM events").scalar_one()
        sql = INSERT_EVENTS.format(f"VALUES ({', '.join('?' for _ in EVENT_COLUMNS)})")
        done = conn.exec_driver_sql(sql, rows).rowcount == len(rows)
        if not done:  # rare: a retried request; the caller looks its keys up and inserts what is new
            conn.exec_driver_sql("DELETE FROM events WHERE seq > ?", (before,))
        return done

    def insert(self, table: sa.Table) -> Any:
        return sqlite.insert(table)

    def _is_retryable(self, exc: DBAPIError) -> bool:
        return exc.orig is not None and sqlite_busy(exc.orig)

    # -- bulk paths ----------------------------------------------------------------------------------
    def sqlite_file(self) -> str | None:
        db = self.engine.url.database
        return db if db and db != ":memory:" and not db.startswith("file:") else None

    @classmethod
    def json_value_sql(cls, column: str, key: str) -> str | None:
        """None: SQLite's JSON path extraction costs far more than reading the raw text."""
        return None

    @classmethod
    def json_size_sql(cls, expr: str) -> str:
        return f"(SELECT count(*) FROM json_each({expr}))"

    @classmethod
    def json_number_sql(cls, expr: str, key: str) -> str:
        return f"json_extract({expr}, {_text('$.' + chr(34) + key + chr(34))})"

    @classmethod
    def json_type(cls) -> str:
        return "TEXT"

    def load_temp(self, raw: Any, ddl: str, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
        raw.execute(f"DROP TABLE IF EXISTS temp.{table}")
        raw.execute(ddl)
        marks = ", ".join("?" for _ in columns.split(", "))
        raw.executemany(f"INSERT INTO temp.{table} ({columns}) VALUES ({marks})", rows)

    def drop_temp(self, raw: Any, table: str) -> None:
        raw.execute(f"DROP TABLE temp.{table}")

    def lock_leads_sql(self, conn: Connection, ids_sql: str) -> None:
        """BEGIN IMMEDIATE already holds the database's single write lock."""


# one event row's placeholders on PostgreSQL: its properties sent as JSON text, stored as jsonb
# one event row's placeholders on PostgreSQL, the properties cast to jsonb
EVENT_MARKS_PG = "(" + ", ".join("CAST(%s AS jsonb)" if c == "properties" else "%s" for c in EVENT_COLUMNS) + ")"
PING_IDLE_S = 1.0  # a pooled PostgreSQL connection idle longer than this is checked before use


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection with a round trip only when it sat idle for a while.

    `pool_pre_ping` pings at every checkout: a round trip more for each transaction and each read,
    which for a real-time event (a write, then a read of its result) is two of about fifteen. A
    connection in steady use is not pinged; one that waited (where a server restart may have
    dropped it) is, and a dead one is replaced by the pool (DisconnectionError).
    """

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["leadscore_idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("leadscore_idle_since")
        if since is not None and time.monotonic() - since < PING_IDLE_S:
            return
        try:
            dbapi_conn.execute("SELECT 1").fetchall()
            dbapi_conn.rollback()
        except Exception as exc:  # any failure: a connection that cannot answer is not reused
            raise sa.exc.DisconnectionError(str(exc)) from exc


# connections the pool keeps open once it opened them (SQLAlchemy's default keeps 5, and closes each
# connection returned beyond that). A server's steady concurrency on PostgreSQL is about 6: the group
# commit, two bulk requests, the waits' check and their reads of marks; with 5 kept, the pool opened and
# closed a connection every few requests, and a new connection costs the database 8 ms of CPU (a
# backend's start, its caches filled again) and this process 2. Only connections opened under load are
# kept: a quiet process holds no more than before, and at most 15 are open at once, as before.
POOL_SIZE = 10


def copy_all_new(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> bool:
    """PostgreSQL: `rows` COPYed straight into `table` (its `columns`), in a savepoint undone if one of
    them is refused by a unique constraint (a key stored already, or twice among the rows; a writer
    storing one meanwhile is waited for, as by a conflict clause): whether they were stored. Else the
    caller takes its path with the conflict clause (a temporary table, then INSERT ... SELECT)."""
    from psycopg.errors import UniqueViolation

    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute("SAVEPOINT copy_all_new")
        try:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT copy_all_new")
            return False
        cur.execute("RELEASE SAVEPOINT copy_all_new")
    return True


class PostgresStore(LeadStore):
    """Row locks on the leads being rescored (`SELECT ... FOR UPDATE`, in id order so no deadlock)."""

    name = "postgres"
    bulk = True
    in_database_rescore = True
    copy_export = True
    upsert_locks = True

    def _create_engine(self, url: str) -> Engine:
        from leadscore._extras import require

        require("postgres")
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        from leadscore.store.pg_compression import compress_with_lz4

        engine = sa.create_engine(url, pool_size=POOL_SIZE, max_overflow=15 - POOL_SIZE)
        _ping_when_idle(engine)
        compress_with_lz4(engine)
        return engine

    def lock_leads(self, conn: Connection, lead_ids: Sequence[str]) -> None:
        """Many leads (a bulk rescore's part) as one array parameter: SQLAlchemy's expanding IN of
        2,000 ids cost 6 ms of this process and 5 of the server a statement, the array 1 and 3.5."""
        ids = sorted(set(lead_ids))
        if len(ids) >= LOCK_ARRAY_MIN:
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                for start in range(0, len(ids), 50_000):
                    cur.execute(_LOCK_ARRAY, (ids[start : start + 50_000],))
            return
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            conn.execute(_LOCK_LEADS, {"ids": list(chunk)}).all()

    def insert(self, table: sa.Table) -> Any:
        return postgresql.insert(table)

    def append_all_new(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> bool:
        """COPY straight into the events table, in a savepoint undone if a row's identity is stored (the
        unique constraint refuses the COPY; a writer storing one meanwhile is waited for, as by the
        conflict clause). Against `insert_new_events`' COPY into a temporary table, then INSERT ...
        SELECT with its conflict clause, after the key look-up: 8.5 µs of the database server's CPU per
        event instead of 14, and 11 of this process's instead of 14 (10,000-event batches, 70,000 stored)."""
        if len(rows) < COPY_MIN_ROWS:
            return False
        return copy_all_new(conn, "events", EVENT_COLUMNS, rows)

    def insert_new_events(self, conn: Connection, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """COPY into a temporary table, then one INSERT ... SELECT in input order, skipping stored keys.

        A few rows (a real-time event) are one multi-row INSERT in the driver's SQL, as on SQLite: the
        statement built through SQLAlchemy cost more CPU than the round trip. Other small batches take
        the plain INSERT: fewer round trips than COPY.
        """
        if len(rows) <= RETURNING_ROWS:
            return _insert_returning(conn, rows, EVENT_MARKS_PG)
        if len(rows) < COPY_MIN_ROWS:
            return super().insert_new_events(conn, rows)
        cols = ", ".join(EVENT_COLUMNS)
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE IF NOT EXISTS events_in (ord bigint, event_key text, lead_id text, received_lead_id"
                " text, type text, ts bigint, properties json, ingested_at bigint) ON COMMIT DELETE ROWS"
            )
            with cur.copy(f"COPY events_in (ord, {cols}) FROM STDIN") as copy:
                for i, row in enumerate(event_tuples(rows)):
                    copy.write_row((i, *row))
            select = f"SELECT {cols} FROM events_in ORDER BY ord"
            cur.execute(INSERT_EVENTS.format(select) + " RETURNING event_key, received_lead_id")
            new = {(key, lead) for key, lead in cur.fetchall()}
            cur.execute("DELETE FROM events_in")
        return new

    def _is_retryable(self, exc: DBAPIError) -> bool:
        code = getattr(exc.orig, "sqlstate", None)
        # a connection the server dropped (a restart) within PING_IDLE_S of its last use: the pool
        # was invalidated, and the transaction runs again on a new connection
        return code in ("40001", "40P01", "55P03") or exc.connection_invalidated

    # -- bulk paths ----------------------------------------------------------------------------------
    @classmethod
    def json_value_sql(cls, column: str, key: str) -> str | None:
        return f"CAST({column} -> {_text(key)} AS TEXT)"

    @classmethod
    def json_size_sql(cls, expr: str) -> str:
        return f"(SELECT count(*) FROM json_object_keys({expr}))"

    @classmethod
    def json_number_sql(cls, expr: str, key: str) -> str:
        return f"CAST({expr} ->> {_text(key)} AS DOUBLE PRECISION)"

    @classmethod
    def json_type(cls) -> str:
        return "JSON"

    def load_temp(self, raw: Any, ddl: str, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """COPY into a table dropped at commit, then ANALYZE its first column (the lead id): the planner
        joins it with `results` by that column and needs its row count. The other columns, JSON texts
        of the bulk write's rows among them, were sampled, detoasted and measured for nothing."""
        key = columns.split(",", 1)[0].strip()
        with raw.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(ddl + " ON COMMIT DROP")
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(f"ANALYZE {table} ({key})")

    def drop_temp(self, raw: Any, table: str) -> None:
        """Nothing: the table goes at commit (ON COMMIT DROP)."""

    def lock_leads_sql(self, conn: Connection, ids_sql: str) -> None:
        """The same row locks, in id order, as `lock_leads` takes; the leads read by their key's index over
        the ids' range (`pg_bounds`), not by a scan of every lead."""
        from leadscore.store.pg_bounds import id_span, within_sql

        span = within_sql("id", id_span(conn, ids_sql))
        lock = f"SELECT id FROM leads WHERE id IN ({ids_sql}) AND {span} ORDER BY id FOR UPDATE"
        conn.exec_driver_sql(f"SELECT count(*) FROM ({lock}) AS k")


LOCK_ARRAY_MIN = 100  # leads from which `PostgresStore.lock_leads` sends their ids as one array
_LOCK_ARRAY = "SELECT count(*) FROM (SELECT id FROM leads WHERE id = ANY(%s) ORDER BY id FOR UPDATE) AS k"
# built once (an expanding parameter): SQLAlchemy reuses its cache key and compiled form
_LOCK_LEADS = (
    sa.select(leads.c.id)
    .where(leads.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(leads.c.id)
    .with_for_update()
)


def _text(value: str) -> str:
    """A SQL string literal (standard quoting, the same in both dialects)."""
    return "'" + value.replace("'", "''") + "'"
