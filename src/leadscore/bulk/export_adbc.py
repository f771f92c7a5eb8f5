"""Arrow batches of a query over a SQLite store, read through ADBC in child processes.

The ADBC driver links its own copy of SQLite, which must not share a process with the store's, so
every ADBC connection lives in a child process of its own (the reader program,
`leadscore.bulk.adbc_reader`), which streams the query's Arrow batches (IPC) to its stdout. One
reader per rowid range, in parallel.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.bulk.adbc_reader import ReadJob
from leadscore.bulk.programs import spawn

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 131_072  # rows per Arrow batch the SQLite driver returns
Keyed = tuple[tuple[int, int], "pa.RecordBatch"]  # ((reader, batch number), batch): the batches' order


def _adbc_read(path: str, sql: str, schema: pa.Schema, part: int, out: queue.Queue[Any], stop: threading.Event) -> None:
    import pyarrow as pa

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    job = ReadJob(path=path, sql=sql, columns=_columns(schema), batch_rows=BATCH_ROWS)
    with tempfile.TemporaryFile() as err:
        try:
            proc = spawn("leadscore.bulk.adbc_reader", job.to_json(), stdout=subprocess.PIPE, stderr=err)
        except BaseException as exc:  # the consumer waits for this thread's end: it must hear of it
            put(exc)
            return
        try:
            assert proc.stdout is not None
            n = 0
            with pa.ipc.open_stream(proc.stdout) as reader:
                for batch in reader:
                    if not put(((part, n), batch)):
                        return
                    n += 1
            if proc.wait() != 0:
                err.seek(0)
                raise RuntimeError(f"reading the SQLite store failed: {err.read().decode(errors='replace')[-2000:]}")
        except BaseException as exc:  # handed to the consuming thread, which raises it
            put(exc)
            return
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    put(None)


def adbc_batches(
    path: str, sql: str, table: str, rowid: str, schema: pa.Schema, parts: list[tuple[int, int]]
) -> Iterator[Keyed]:
    """Batches of `sql` (a SELECT over `table`), read by one reader per rowid range in parallel;
    keyed by (range, batch number), arriving in any order."""
    out: queue.Queue[Any] = queue.Queue(maxsize=2 * len(parts))
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_adbc_read,
            args=(path, _ranged(sql, table, rowid, lo, hi), schema, i, out, stop),
            daemon=True,
        )
        for i, (lo, hi) in enumerate(parts)
    ]
    for th in threads:
        th.start()
    try:
        running = len(threads)
        while running:
            item = out.get()
            if item is None:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for th in threads:
            th.join()


def _ranged(sql: str, table: str, rowid: str, lo: int, hi: int) -> str:
    joiner = " AND " if " WHERE " in sql else " WHERE "
    return f"{sql}{joiner}{table}.{rowid} BETWEEN {lo} AND {hi}"


def _columns(schema: pa.Schema) -> list[tuple[str, str]]:
    import pyarrow as pa

    return [(f.name, "int" if pa.types.is_integer(f.type) else "str") for f in schema]


def adbc_spill(
    path: str,
    sql: str,
    table: str,
    rowid: str,
    schema: pa.Schema,
    ranges: list[tuple[int, int]],
    folder: Path,
    starts: Sequence[str],
) -> dict[int, list[Path]]:
    """The rows of `sql` (a SELECT over `table` with a `lead_id` column) cut by lead id into the parts
    beginning at `starts` (`spill_files`), by one reader per rowid range in parallel, each writing its
    own files into `folder`: {part: its files, in their readers' order}. The rows never pass through
    this process: read as batches (`adbc_batches`), each crossed a pipe as Arrow IPC into it, was cut
    and written here again (1.7-3.4 CPU s of this process at 100,000 leads x 50 events, where the
    process that prepares the parts waits for the scan's end)."""
    jobs = [
        ReadJob(
            path=path,
            sql=_ranged(sql, table, rowid, lo, hi),
            columns=_columns(schema),
            batch_rows=BATCH_ROWS,
            spill_folder=str(folder),
            spill_starts=list(starts),
            spill_reader=i,
        )
        for i, (lo, hi) in enumerate(ranges)
    ]
    procs: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as stack:
        errs = [stack.enter_context(tempfile.TemporaryFile()) for _ in jobs]
        try:
            files = _run_spill(jobs, procs, errs)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
    return {part: sorted(paths, key=lambda p: p.name) for part, paths in files.items()}


def _run_spill(jobs: list[ReadJob], procs: list[subprocess.Popen[bytes]], errs: list[Any]) -> dict[int, list[Path]]:
    """`adbc_spill`'s readers started (into `procs`, each with its stderr in `errs`) and waited for."""
    for job, err in zip(jobs, errs, strict=True):
        procs.append(spawn("leadscore.bulk.adbc_reader", job.to_json(), stdout=subprocess.PIPE, stderr=err))
    files: dict[int, list[Path]] = {}
    for proc, err in zip(procs, errs, strict=True):
        out, _ = proc.communicate()
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"reading the SQLite store failed: {err.read().decode(errors='replace')[-2000:]}")
        for part, name in json.loads(out.decode() or "{}").items():
            files.setdefault(int(part), []).append(Path(name))
    return files
