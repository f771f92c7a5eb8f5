"""The in-database apply on several server processes at once, every lead's sums as the one statement adds them.

The one statement (`in_database.write_statement`) runs in a single server process: at 1M leads x 50
events it costs 140-200 CPU s, one core's worth while the other waits. PostgreSQL's parallel query
would split the events table by pages, so a lead's decayed points would be added in partial sums in
an order that changes from run to run (a last-bit change is a changed score). Here the leads are split
instead (`Part`: a hash of the lead id), and each part is scored on a connection of its own: a lead's
events are all read by one process, in the table's order, as the one statement reads them, and its
rows are the ones the one statement writes.

Still one transaction, as the one statement: the write transaction takes the leads' row locks and
exports its snapshot (`pg_export_snapshot`); each part's connection imports it (REPEATABLE READ,
`SET TRANSACTION SNAPSHOT`), so it reads exactly what the write transaction sees, and stores its
shaped rows in an unlogged stage table (no WAL: a table that lives for one apply). The write
transaction writes each part's results as soon as it is ready (the write of one part overlaps the
scoring of the next), then the score history of all parts in lead order, drops the stages and runs
the activation: every lead moves to the new model or none. A stage left by a crash is named
`_ls_stage_*`, holds nothing but derived rows, and is dropped by the next apply in parts.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy.engine import Connection

    from leadscore.store.base import LeadStore

STAGE = "_ls_stage"


class _Backends:
    """The server processes of the parts' connections, to cancel when the apply fails."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pids: list[int] = []
        self.failed = False

    def add(self, pid: int) -> None:
        with self._lock:
            self.pids.append(pid)

    def done(self, pid: int) -> None:
        with self._lock:
            self.pids.remove(pid)


def _stage(store: LeadStore, snapshot: str, setup: Sequence[str], sql: str, name: str, backends: _Backends) -> None:
    """Create the stage `name` from `sql` under the write transaction's snapshot, and commit it."""
    if backends.failed:  # another part failed: the apply is rolled back
        return
    with store.engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            backends.add(pid)
            try:
                for statement in setup:
                    conn.exec_driver_sql(statement)
                conn.exec_driver_sql(f"CREATE UNLOGGED TABLE {name} AS {sql}".replace("%", "%%"))
                # the write joins the stage with the stored results: the planner's estimate of the stored
                # rows not current comes from statistics that may predate the last apply, and when it
                # says one row, a join without the index read the whole stage once per stored row
                conn.exec_driver_sql(f"CREATE UNIQUE INDEX {name}_lead ON {name} (lead_id)")
                conn.exec_driver_sql(f"ANALYZE {name}")  # the write's plans: how many rows, how many unchanged
            finally:  # (a connection back in the pool may serve anything: it is not cancelled)
                backends.done(pid)


def drop_stages(store: LeadStore, names: Sequence[str]) -> None:
    """The stages of an apply that failed, once its transaction is rolled back (the drops with it):
    before, its locks on the stages it read would make the drops wait for it."""
    if not names:
        return
    with store.engine.connect() as conn, conn.begin():
        for name in names:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")


def write_parts(
    store: LeadStore,
    conn: Connection,
    parts: Sequence[str],
    writes: tuple[Callable[[str], str], Callable[[Sequence[str]], str]],
    workers: int,
    setup: Sequence[str],
    names: list[str],
) -> tuple[int, int]:
    """Score `parts` (`in_database.part_statements`) on `workers` connections of their own under
    `conn`'s snapshot, and write them in `conn`'s transaction (which holds the leads' row locks) by
    `writes` (`in_database.stage_write_statements`): (leads evaluated, history rows).

    `names` gets the stages' names: if the apply fails, `drop_stages` them after the rollback."""
    _drop_left(conn)
    token = uuid.uuid4().hex[:12]
    mine = [f"{STAGE}_{token}_{k}" for k in range(len(parts))]
    names.extend(mine)
    write_results, write_history = writes
    snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
    backends = _Backends()
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ls-part")
    try:
        futures: list[Future[None]] = [
            pool.submit(_stage, store, snapshot, setup, sql, name, backends)
            for sql, name in zip(parts, mine, strict=True)
        ]
        leads = 0
        for future, name in zip(futures, mine, strict=True):
            future.result()
            leads += int(conn.exec_driver_sql(write_results(name)).scalar_one())
        changed = int(conn.exec_driver_sql(write_history(mine)).scalar_one())
        conn.exec_driver_sql(f"DROP TABLE {', '.join(mine)}")
        return leads, changed
    except BaseException:
        backends.failed = True
        _cancel(conn, backends)
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)


def _drop_left(conn: Connection) -> None:
    """Drop the stages an apply killed after its parts committed them left behind. `conn` holds every
    lead's row lock, as any apply in parts does from before its stages exist until after it drops
    them: no other apply's stage is alive now."""
    left = conn.exec_driver_sql(
        f"SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema() "
        f"AND left(tablename, {len(STAGE) + 1}) = '{STAGE}_'"
    ).scalars()
    names = list(left)
    if names:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {', '.join(names)}")


def _cancel(conn: Connection, backends: _Backends) -> None:
    """Stop the parts still scoring, from a connection of its own (the apply's transaction may be
    aborted already): their work is thrown away with the transaction. Best effort: a part that
    finishes meanwhile is dropped with the others."""
    from sqlalchemy.exc import DBAPIError

    pids = list(backends.pids)
    if not pids:
        return
    try:
        with conn.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_cancel_backend(pid) FROM unnest(ARRAY{pids}::int[]) AS pid")
            other.commit()
    except DBAPIError:
        pass
