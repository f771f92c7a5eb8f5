"""The child-process programs of the store paths, run as `python -m` exactly as the store paths run them."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from leadscore.bulk.adbc_reader import ReadJob
from leadscore.bulk.adbc_writer import WriteJob
from leadscore.bulk.programs import INLINE_BYTES, child_env, spawn

SCHEMA = pa.schema([("id", pa.string()), ("n", pa.int64())])


def _database(tmp_path: Path) -> Path:
    path = tmp_path / "db.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)")
        db.execute("INSERT INTO t VALUES ('a', 1)")
    return path


def _job(path: Path, rows: int, busy_ms: int = 5_000) -> WriteJob:
    return WriteJob(
        path=str(path),
        busy_ms=busy_ms,
        cache_kib=1024,
        ddl="CREATE TEMP TABLE new_t (id TEXT, n BIGINT)",
        temp="new_t",
        history="INSERT INTO t SELECT id || '-old', n FROM new_t WHERE id IN (SELECT id FROM t)",
        writes=["INSERT INTO t SELECT id, n FROM new_t WHERE TRUE ON CONFLICT (id) DO UPDATE SET n = excluded.n"],
        rows=rows,
    )


def _write(job: WriteJob, table: pa.Table) -> subprocess.CompletedProcess[bytes]:
    proc = spawn("leadscore.bulk.adbc_writer", job.to_json(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        stream.write_table(table)
    out, err = proc.communicate(sink.getvalue().to_pybytes(), timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _rows(path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as db:
        return list(db.execute("SELECT id, n FROM t ORDER BY id"))


def test_the_writer_stores_the_stream_in_one_transaction(tmp_path: Path) -> None:
    path = _database(tmp_path)
    done = _write(_job(path, 2), pa.table({"id": ["a", "b"], "n": [10, 20]}, schema=SCHEMA))
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout.decode())["changed"] == 1  # the history statement's changes
    assert _rows(path) == [("a", 10), ("a-old", 10), ("b", 20)]


def test_a_cut_stream_writes_nothing(tmp_path: Path) -> None:
    path = _database(tmp_path)
    done = _write(_job(path, 5), pa.table({"id": ["a", "b"], "n": [10, 20]}, schema=SCHEMA))
    assert done.returncode != 0
    assert "2 result rows arrived, 5 were sent" in done.stderr.decode()
    assert _rows(path) == [("a", 1)]


def test_the_writer_waits_for_the_write_lock_with_the_store_retry(tmp_path: Path) -> None:
    """A busy timeout far too short to wait out the other writer: the store's retry gets past it."""
    path = _database(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES ('z', 26)")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        done = _write(_job(path, 1, busy_ms=1), pa.table({"id": ["b"], "n": [2]}, schema=SCHEMA))
    finally:
        release.join()
        holder.close()
    assert done.returncode == 0, done.stderr.decode()
    assert _rows(path) == [("a", 1), ("b", 2), ("z", 26)]


def test_the_reader_streams_the_query_as_arrow(tmp_path: Path) -> None:
    path = _database(tmp_path)
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO t VALUES (?, ?)", [(f"k{i:03}", i) for i in range(300)])
    job = ReadJob(path=str(path), sql="SELECT id, n FROM t WHERE n >= 1", columns=[("id", "str"), ("n", "int")],
                  batch_rows=64)
    proc = spawn("leadscore.bulk.adbc_reader", job.to_json(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    table = pa.ipc.open_stream(out).read_all()
    assert table.schema == SCHEMA
    got = sorted(zip(table["id"].to_pylist(), table["n"].to_pylist(), strict=True))
    assert got == [r for r in _rows(path) if r[1] >= 1]


@pytest.mark.parametrize("module", ["leadscore.bulk.adbc_reader", "leadscore.bulk.adbc_writer"])
def test_a_program_run_without_its_job_says_how_to_run_it(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module], env=child_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert f"usage: python -m {module} JOB_JSON" in done.stderr


def test_a_job_over_the_argument_limit_goes_through_a_file_the_program_removes(tmp_path: Path) -> None:
    """A query naming many ids is longer than one `execve` argument may be (128 KiB on Linux): spawned
    inline it failed with E2BIG. Through `@file` the reader gets it whole, and the file is gone after."""
    path = _database(tmp_path)
    ids = ", ".join(f"'id-{i:06d}'" for i in range(20_000)) + ", 'a'"  # ~260 kB of SQL
    job = ReadJob(path=str(path), sql=f"SELECT id, n FROM t WHERE id IN ({ids})", columns=[("id", "str"), ("n", "int")],
                  batch_rows=64)
    assert len(job.to_json()) > 2 * INLINE_BYTES
    before = set(Path(tempfile.gettempdir()).glob("leadscore-job-*"))
    proc = spawn("leadscore.bulk.adbc_reader", job.to_json(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert str(proc.args[-1]).startswith("@")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert pa.ipc.open_stream(out).read_all().to_pylist() == [{"id": "a", "n": 1}]
    assert set(Path(tempfile.gettempdir()).glob("leadscore-job-*")) <= before


def test_a_reader_that_cannot_start_is_an_error_of_the_read_not_a_wait_forever(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadscore.bulk import export_adbc

    def refused(*args: object, **kwargs: object) -> subprocess.Popen[bytes]:
        raise OSError(7, "Argument list too long")

    monkeypatch.setattr(export_adbc, "spawn", refused)
    path = _database(tmp_path)
    with pytest.raises(OSError, match="Argument list too long"):
        list(export_adbc.adbc_batches(str(path), "SELECT id, n FROM t", "t", "rowid", SCHEMA, [(1, 1), (2, 9)]))
