"""The store reader program: one query over a SQLite store, streamed to stdout as Arrow IPC.

Run as `python -m leadscore.bulk.adbc_reader JOB` (JOB: a `ReadJob` as JSON) by
`store_adbc.adbc_batches`, one process per rowid range. The ADBC driver links its own copy of
SQLite, which must not share a process with the store's: two copies in one process break SQLite's
POSIX locks (closing one copy's file handle drops the other's locks, and the WAL index can be reset
under a live connection).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from typing import IO

BUSY_MS = 30_000


@dataclass(frozen=True)
class ReadJob:
    path: str  # the SQLite database file
    sql: str  # the query
    columns: list[tuple[str, str]]  # (name, "int" | "str"): the stream's schema
    batch_rows: int  # rows per batch the driver returns

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ReadJob:
        data = json.loads(text)
        data["columns"] = [(str(n), str(t)) for n, t in data["columns"]]
        return cls(**data)


def read(job: ReadJob, out: IO[bytes]) -> None:
    """Run the query and write its non-empty batches, cast to the job's schema, as one Arrow stream."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    schema = pa.schema([(n, pa.int64() if t == "int" else pa.string()) for n, t in job.columns])
    with adbc.connect(job.path) as conn, conn.cursor() as cur:
        cur.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(job.batch_rows)})
        cur.execute(job.sql)
        with pa.ipc.new_stream(out, schema) as writer:
            for batch in cur.fetch_record_batch():
                if batch.num_rows:
                    writer.write_table(pa.Table.from_batches([batch]).cast(schema))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m leadscore.bulk.adbc_reader JOB_JSON  (Arrow IPC stream on stdout)", file=sys.stderr)
        return 2
    read(ReadJob.from_json(argv[1]), sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
