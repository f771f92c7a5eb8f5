"""The bulk writer program: batch results streamed as Arrow IPC on stdin into a SQLite store.

Run as `python -m leadscore.bulk.adbc_writer JOB` (JOB: a `WriteJob` as JSON) by
`store_write.write_sqlite`. The ADBC driver links its own copy of SQLite, which must not share a
process with the store's (two copies break each other's POSIX locks), hence a process of its own.
It takes the write lock (BEGIN IMMEDIATE, waiting and retrying as the store's own writers do),
ingests the stream into the temporary table, runs the history insert and the results' writes and commits:
one transaction, rolled back whole on any error; a cut stream (fewer rows than sent) is one.
Prints, as JSON, the number of leads that changed (got a score_history row) and the time of each step.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import IO, Any

from leadscore.store.retry import retrying, sqlite_busy


@dataclass(frozen=True)
class WriteJob:
    path: str  # the SQLite database file
    busy_ms: int  # SQLite's busy timeout, as the store's own connections set it
    cache_kib: int  # page cache of the writer's connection (the upsert moves index pages at random)
    ddl: str  # CREATE TEMP TABLE of the rows
    temp: str  # its name
    history: str  # INSERT of the score_history rows, from the temporary table
    writes: list[str]  # the results' statements (`store_write._statements`), from the temporary table
    rows: int  # how many rows the stream carries
    after: list[str] = field(default_factory=list)  # run before COMMIT (model apply's activation)
    before: list[str] = field(default_factory=list)  # run before the history and the upsert (stage history)
    locate: list[str] = field(default_factory=list)  # run first: the stored results' rowids made current

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WriteJob:
        return cls(**json.loads(text))


def write(job: WriteJob, stream: IO[bytes]) -> dict[str, Any]:
    """Ingest the Arrow stream and store it as `job` says, in one transaction: {"changed": the leads
    changed, "seconds": wall seconds of each step, "cpu_s": this process's CPU seconds, "cpu_steps": CPU
    seconds of each step}."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds of each step: on a shared machine the wall says little
    clock = [time.perf_counter(), _cpu()]

    def step(name: str) -> None:  # the benchmarks' phases of the write
        now, used = time.perf_counter(), _cpu()
        seconds[name] = seconds.get(name, 0.0) + now - clock[0]
        cpu[name] = cpu.get(name, 0.0) + used - clock[1]
        clock[0], clock[1] = now, used

    with adbc.connect(job.path, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"PRAGMA busy_timeout={int(job.busy_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA main.cache_size={-int(job.cache_kib)}")
        cur.execute(f"PRAGMA temp.cache_size={-int(job.cache_kib)}")
        retrying(lambda: cur.execute("BEGIN IMMEDIATE"), sqlite_busy)
        try:
            cur.execute(job.ddl)
            step("begin")
            cur.adbc_ingest(job.temp, pa.ipc.open_stream(stream), mode="append", temporary=True)
            got = _one(cur, f"SELECT count(*) FROM temp.{job.temp}")
            if got != job.rows:
                raise RuntimeError(f"{got} result rows arrived, {job.rows} were sent")
            step("ingest")
            for statement in job.locate:
                cur.execute(statement)
            step("locate")
            for statement in job.before:
                cur.execute(statement)
            cur.execute(job.history)
            changed = _one(cur, "SELECT changes()")
            step("history")
            for i, statement in enumerate(job.writes):
                cur.execute(statement)
                step(f"results{i}")  # (write_sqlite's: 0 the touch of unchanged rows, 1 the upsert)
            for statement in job.after:
                cur.execute(statement)
            cur.execute(f"DROP TABLE temp.{job.temp}")
            cur.execute("COMMIT")
            step("commit")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    return {"changed": changed, "seconds": seconds, "cpu_s": _cpu(), "cpu_steps": cpu}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _one(cur: Any, sql: str) -> int:
    cur.execute(sql)
    return int(cur.fetchone()[0])


def main(argv: list[str]) -> int:
    from leadscore.bulk.programs import job_text

    if len(argv) != 2:
        print("usage: python -m leadscore.bulk.adbc_writer JOB_JSON  (Arrow IPC stream on stdin)", file=sys.stderr)
        return 2
    print(json.dumps(write(WriteJob.from_json(job_text(argv[1])), sys.stdin.buffer)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
