"""Who copies SQLite's write-ahead log into the database file (leadscore.store.backends.SqliteStore).

A server whose rescoring runs in a process of its own leaves the copy (the checkpoint) to that process's
commits (`leave_checkpoints`): its own commits, the bulk requests' of thousands of pages each, then
return without copying and syncing them first. Every committed row stays readable from any
connection, and the next commit of a store that checkpoints at SQLite's default copies the log.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from leadscore.store import open_store
from leadscore.store.backends import BACKSTOP_PAGES, CHECKPOINT_PAGES, SqliteStore

ROWS = 4000  # rows of 1 KiB: about 1,000 pages more than SQLite's default checkpoint threshold


def _fill(store: SqliteStore, start: int) -> None:
    rows = [{"i": i, "body": "x" * 1024} for i in range(start, start + ROWS)]
    store.transact(lambda conn: conn.execute(sa.text("INSERT INTO filler (i, body) VALUES (:i, :body)"), rows))


def _autocheckpoint(store: SqliteStore) -> int:
    with store.read() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _stores(tmp_path: Path) -> tuple[SqliteStore, SqliteStore]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    server, drain = open_store(url), open_store(url)
    assert isinstance(server, SqliteStore) and isinstance(drain, SqliteStore)
    server.transact(lambda conn: conn.exec_driver_sql("CREATE TABLE filler (i INTEGER PRIMARY KEY, body TEXT)"))
    return server, drain


def test_a_store_checkpoints_at_sqlites_default_until_it_leaves_them(tmp_path: Path) -> None:
    server, drain = _stores(tmp_path)
    try:
        assert _autocheckpoint(server) == CHECKPOINT_PAGES == 1000
        server.leave_checkpoints()
        assert _autocheckpoint(server) == BACKSTOP_PAGES
        assert _autocheckpoint(drain) == CHECKPOINT_PAGES
    finally:
        server.dispose()
        drain.dispose()


def test_the_commits_of_a_store_that_left_checkpoints_are_copied_by_another(tmp_path: Path) -> None:
    server, drain = _stores(tmp_path)
    db = tmp_path / "db.sqlite"
    try:
        before = db.stat().st_size
        _fill(server, 0)  # checkpointed by its own commit: the database file holds the rows
        assert db.stat().st_size > before + ROWS * 1024
        server.leave_checkpoints()
        copied = db.stat().st_size
        _fill(server, ROWS)  # left in the log
        assert db.stat().st_size == copied
        with drain.read() as conn:  # readable from another connection all the same
            assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar_one() == 2 * ROWS
        drain.transact(lambda conn: conn.exec_driver_sql("INSERT INTO filler (i, body) VALUES (-1, 'drain')"))
        assert db.stat().st_size > copied + ROWS * 1024  # that commit copied the log
    finally:
        server.dispose()
        drain.dispose()
