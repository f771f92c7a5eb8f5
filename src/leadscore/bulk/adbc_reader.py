"""The store reader program: one query over a SQLite store, streamed to stdout as Arrow IPC.

Run as `python -m leadscore.bulk.adbc_reader JOB` (JOB: a `ReadJob` as JSON) by
`store_adbc.adbc_batches`, one process per rowid range. With `spill_folder` (`export_adbc.adbc_spill`)
it cuts its rows into one file per part there itself (`spill_files`) and writes only their names to
stdout: the rows do not go through a pipe and the apply's process at all. The ADBC driver links its own copy of
SQLite, which must not share a process with the store's: two copies in one process break SQLite's
POSIX locks (closing one copy's file handle drops the other's locks, and the WAL index can be reset
under a live connection).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

BUSY_MS = 30_000


@dataclass(frozen=True)
class ReadJob:
    path: str  # the SQLite database file
    sql: str  # the query
    columns: list[tuple[str, str]]  # (name, "int" | "str"): the stream's schema
    batch_rows: int  # rows per batch the driver returns
    spill_folder: str | None = None  # the rows cut into one file per part there (`spill_files`)
    spill_starts: list[str] | None = None  # the parts' starts (sorted, byte order)
    spill_reader: int = 0  # this reader's number in its files' names

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ReadJob:
        data = json.loads(text)
        data["columns"] = [(str(n), str(t)) for n, t in data["columns"]]
        return cls(**data)


def read(job: ReadJob, out: IO[bytes]) -> None:
    """Run the query and write its non-empty batches, cast to the job's schema, as one Arrow stream.

    Through the driver manager's own API rather than its DB-API module: that module imports
    `pyarrow.dataset` and with it pandas, about 0.3 s of CPU in every reader process, which is
    more than reading a million rows of a few columns costs."""
    import adbc_driver_manager as adbc
    import adbc_driver_sqlite
    import pyarrow as pa

    schema = pa.schema([(n, pa.int64() if t == "int" else pa.string()) for n, t in job.columns])
    with (
        adbc_driver_sqlite.connect(job.path) as db,
        adbc.AdbcConnection(db) as conn,
        adbc.AdbcStatement(conn) as stmt,
    ):
        stmt.set_sql_query(f"PRAGMA busy_timeout={BUSY_MS}")
        stmt.execute_update()
        stmt.set_options(**{"adbc.sqlite.query.batch_rows": str(job.batch_rows)})
        stmt.set_sql_query(job.sql)
        handle, _ = stmt.execute_query()
        with pa.RecordBatchReader._import_from_c(handle.address) as batches:
            if job.spill_folder is not None:
                _spill(job, schema, batches, out)
                return
            with pa.ipc.new_stream(out, schema) as writer:
                for batch in batches:
                    if batch.num_rows:
                        writer.write_table(pa.Table.from_batches([batch]).cast(schema))


def _spill(job: ReadJob, schema: pa.Schema, batches: pa.RecordBatchReader, out: IO[bytes]) -> None:
    """The batches cut into the job's part files; their names as one JSON object on `out`."""
    from pathlib import Path

    import pyarrow as pa

    from leadscore.bulk.spill_files import PartFiles, part_of

    assert job.spill_folder is not None and job.spill_starts is not None
    starts = job.spill_starts
    files = PartFiles(Path(job.spill_folder), schema, job.spill_reader)
    try:
        for batch in batches:
            if batch.num_rows:
                rows = pa.Table.from_batches([batch]).cast(schema)
                files.write(rows, part_of(rows.column("lead_id"), starts), len(starts))
    finally:
        files.close()
    out.write(json.dumps({str(k): str(v) for k, v in files.paths.items()}).encode())


def main(argv: list[str]) -> int:
    from leadscore.bulk import timeline
    from leadscore.bulk.programs import job_text

    if len(argv) != 2:
        print("usage: python -m leadscore.bulk.adbc_reader JOB_JSON  (Arrow IPC stream on stdout)", file=sys.stderr)
        return 2
    read(ReadJob.from_json(job_text(argv[1])), sys.stdout.buffer)
    if os.environ.get(timeline.ENV):  # from its interpreter's start: its imports are work too
        import time

        timeline.record("reader", "read", timeline.started(), time.monotonic())
    return 0


if __name__ == "__main__":
    # ended without the interpreter's teardown (every module's objects, Arrow's and DuckDB's memory
    # freed one by one): nothing is left to write once `main` returned, and the spill waits for
    # this process's end (0.3-0.8 s of it under load, while a core had nothing to run)
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
