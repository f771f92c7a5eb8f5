"""A big events file read once: its check pass also stages the rows, which SQL then moves into the log.

The strict ingest of a file reads it twice: a check pass (refuse the whole file, naming its bad rows,
before anything is written) and a write pass, each converting every row, then looks every event's
key up. Here the check pass also writes each batch's events, as the log will store them (the same
key and JSON text as `events_repo.event_rows` / `backends.event_tuples`), into a temporary table of a
connection held for the file. Once the file is known good, one `INSERT ... SELECT` per
`MOVE_ROWS` staged rows, in file order, appends the new events (the log's unique (key, lead received
under) index skips duplicates, inside the file as against the store: the first row wins, as before),
creates their leads and queues them for rescoring, in one transaction each, as the deferred intake's
batches did. A bad row anywhere refuses the file with nothing written; a crash loses only the chunk
in flight (a re-run completes it); memory is one batch, whatever the file's size. A Parquet file's
plain batches come converted by column (`io.event_rows`, `add_rows`): the same rows, without an
Event per row.

Identify events (which link and merge leads as they go) are not staged: a file with one is written
batch by batch as before (`usable` turns false).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from sqlalchemy.exc import DBAPIError

from leadscore.domain import Event, event_key
from leadscore.io.event_rows import EventRows
from leadscore.store.backends import INSERT_EVENTS, json_text
from leadscore.store.base import LeadStore
from leadscore.store.events_repo import json_ready
from leadscore.store.identity import IDENTIFY
from leadscore.store.leads_repo import LOCKING, NEW_LEADS
from leadscore.store.retry import retrying

TABLE = "file_events_in"
MOVE_ROWS = 100_000  # staged rows per write transaction: the write lock held for a fraction of a second
_STAGED = ("event_key", "received_lead_id", "type", "ts", "properties")
# the staged rows as the log's columns: the lead resolved through its alias (a merged or identified
# visitor), as `resolve_aliases` does; `{at}` the time stamp of the move
_SELECT = (
    "SELECT s.event_key, coalesce(a.lead_id, s.received_lead_id), s.received_lead_id, s.type, s.ts, {props}, {at} "
    f"FROM {TABLE} AS s LEFT JOIN aliases AS a ON a.alias = s.received_lead_id "
    "WHERE s.n >= {lo} AND s.n < {hi} ORDER BY s.n"
)


class Staging:
    """The staged rows of one file, on a connection held until `close` (the table is that session's)."""

    def __init__(self, store: LeadStore) -> None:
        self.store = store
        self.sqlite = store.engine.dialect.paramstyle == "qmark"
        self.rows = 0
        self.usable = True
        self.conn = store.engine.connect()
        try:
            self._run(self._create, write=False)
        except BaseException:
            self.conn.close()
            raise

    def _run(self, work: Callable[[Any], Any], write: bool) -> Any:
        """`work(driver cursor)` in a transaction of the held connection, again when the database asks.
        Staging writes the temporary table only: on SQLite a deferred transaction, which takes no
        lock on the store (other writers go on); the move takes the write lock (BEGIN IMMEDIATE)."""
        self.conn.execution_options(leadscore_read=not write)

        def once() -> Any:
            with self.conn.begin():
                raw: Any = self.conn.connection.driver_connection
                cur = raw.cursor()
                try:
                    return work(cur)
                finally:
                    cur.close()

        return retrying(once, lambda exc: isinstance(exc, DBAPIError) and self.store._is_retryable(exc))

    def _create(self, cur: Any) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {'temp.' if self.sqlite else ''}{TABLE}")
        if self.sqlite:  # rowid order is input order: `n` is the rowid
            cur.execute(
                f"CREATE TEMP TABLE {TABLE} (n INTEGER PRIMARY KEY, event_key TEXT, received_lead_id TEXT, "
                "type TEXT, ts INTEGER, properties TEXT)"
            )
        else:
            cur.execute(
                f"CREATE TEMP TABLE {TABLE} (n bigint, event_key text, received_lead_id text, type text, "
                "ts bigint, properties text)"
            )

    def add(self, items: Sequence[Event]) -> None:
        """Stage a checked batch (its good rows, in file order)."""
        if not self.usable:
            return
        if any(e.type == IDENTIFY for e in items):
            self.usable = False  # a link between leads as the file goes: the batch path's job
            return
        text = json_text
        # what event_rows and event_tuples make of an event: the same key, the same JSON text
        rows = [(event_key(e), e.lead_id, e.type, e.ts, text(json_ready(e.properties))) for e in items]
        start = self.rows
        self._run(lambda cur: self._stage(cur, rows, start), write=False)
        self.rows += len(rows)

    def add_rows(self, rows: EventRows) -> None:
        """Stage a batch converted by column (`io.event_rows`: plain rows, no identify among them)."""
        if not self.usable:
            return
        start = self.rows
        self._run(lambda cur: self._stage(cur, rows.tuples(), start), write=False)
        self.rows += len(rows)

    def _stage(self, cur: Any, rows: Iterable[tuple[Any, ...]], start: int) -> None:
        cols = ", ".join(_STAGED)
        if self.sqlite:
            cur.executemany(f"INSERT INTO temp.{TABLE} ({cols}) VALUES (?, ?, ?, ?, ?)", rows)
            return
        with cur.copy(f"COPY {TABLE} (n, {cols}) FROM STDIN") as copy:
            for i, row in enumerate(rows, start + 1):
                copy.write_row((i, *row))

    def move(self, now: Callable[[], int], progress: Callable[[int], None] | None = None) -> int:
        """Append the staged rows to the log in file order, MOVE_ROWS per transaction; returns how
        many were new."""
        if not self.sqlite and self.rows:  # chunks are read by `n`, and joined with the log's keys
            self._run(self._index, write=False)
        inserted = 0
        for lo in range(1, self.rows + 1, MOVE_ROWS):
            hi = min(lo + MOVE_ROWS, self.rows + 1)
            inserted += self._run(partial(self._move, lo=lo, hi=hi, now=now), write=True)
            if progress:
                progress(hi - 1)
        return inserted

    def _index(self, cur: Any) -> None:
        cur.execute(f"CREATE INDEX ON {TABLE} (n)")
        cur.execute(f"ANALYZE {TABLE}")

    def _move(self, cur: Any, lo: int, hi: int, now: Callable[[], int]) -> int:
        at = now()
        if self.sqlite:
            # under the store's one write lock: the events numbered above `before` are this chunk's
            cur.execute("SELECT coalesce(max(seq), 0) FROM events")
            before = int(cur.fetchone()[0])
            select = _SELECT.format(props="s.properties", at=int(at), lo=lo, hi=hi)
            cur.execute(INSERT_EVENTS.format(select))
            inserted = int(cur.rowcount)
            if inserted:
                new = f"SELECT DISTINCT lead_id FROM events WHERE seq > {before}"
                cur.execute(
                    NEW_LEADS + f"SELECT lead_id, '{{}}', NULL, ?, ? FROM ({new}) ORDER BY lead_id "
                    "ON CONFLICT DO NOTHING",
                    (at, at),
                )
                cur.execute(
                    f"INSERT INTO pending_rescore (lead_id, since) SELECT lead_id, ? FROM ({new}) ORDER BY lead_id "
                    "ON CONFLICT (lead_id) DO NOTHING",
                    (at,),
                )
            return inserted
        # PostgreSQL: the chunk's leads created, and locked (in id order, as every writer locks them)
        # before their events go in, so that a rescoring of one of them in flight ends first and sees
        # its queue mark; then the events and their leads' marks in one statement. Leads of events
        # already stored are among them: such a lead exists (an erase takes its events with it), so
        # this only locks it, where leaving it out would cost a look-up of every row's key.
        leads = (
            f"SELECT DISTINCT coalesce(a.lead_id, s.received_lead_id) AS id FROM {TABLE} AS s "
            f"LEFT JOIN aliases AS a ON a.alias = s.received_lead_id WHERE s.n >= {lo} AND s.n < {hi}"
        )
        cur.execute(
            NEW_LEADS + f"SELECT id, CAST('{{}}' AS jsonb), NULL, %s, %s FROM ({leads}) AS f ORDER BY id " + LOCKING,
            (at, at),
        )
        select = _SELECT.format(props="CAST(s.properties AS jsonb)", at=int(at), lo=lo, hi=hi)
        cur.execute(
            f"WITH new AS ({INSERT_EVENTS.format(select)} RETURNING lead_id), "
            "queued AS (INSERT INTO pending_rescore (lead_id, since) SELECT DISTINCT lead_id, %s FROM new "
            "ORDER BY lead_id ON CONFLICT (lead_id) DO NOTHING) SELECT count(*) FROM new",
            (at,),
        )
        return int(cur.fetchone()[0])

    def close(self) -> None:
        """Drop the table (the pooled connection outlives this file); a connection that cannot is
        discarded, and its session's table with it."""
        try:
            self._run(lambda cur: cur.execute(f"DROP TABLE IF EXISTS {'temp.' if self.sqlite else ''}{TABLE}"), False)
        except Exception:
            self.conn.invalidate()
        finally:
            self.conn.close()
