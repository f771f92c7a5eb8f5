"""The next part of a lifecycle rescore in parts prepared in another process, one part ahead.

A part's export, scoring, conditions at every (lead, event time), split, shaped rows and the history
pass's staging (`lifecycle_prepare.prepare_part`) are computation over the part's events file and the store as it
was committed: nothing of the write transaction. Its history pass and write are the transaction's.
So while this process runs part k's history pass and write, child processes prepare the next parts
(`Preparers`: part k by child k % PREPARERS, received here in order) and hand over what the pass and
the write read (`handed`: the shaped rows, the leads of the history pass, their staged rows and walk)
as Arrow IPC files in the parts' temporary folder. At most PREPARERS parts are held ahead of the one
written here (a child waits for its next request once it handed its part over).

The child is a new interpreter (`python -m leadscore.bulk.lifecycle_ahead`), not a fork: a fork of a
process holding DuckDB's threads or a SQLite connection can inherit their locks held. (A thread
beside the write was tried first: DuckDB's package can deadlock with the main thread's garbage
collection, the shape `benchmarks/results/store_rescore.md` records.) It opens the store by its URL,
reads only through connections of its own (as the export's readers do), and writes nothing to it,
so a failure there leaves the store as the transaction leaves it: rolled back. Requests and replies
are pickles on its stdin and stdout; its stderr goes to a file whose tail a failure reports.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import traceback
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from leadscore.bulk import timeline
from leadscore.bulk.lifecycle_prepare import Prepared, PureNeeded
from leadscore.store.base import StoreError

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

    from leadscore.bulk.export_spill import RawEvents, SpilledEvents
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

__all__ = ["Ahead", "PartFailed", "Prepared", "Preparers", "PureNeeded"]

# DuckDB threads of the preparing process: it shares the cores with the process that writes, and on a
# part (10,000 leads) one thread costs less CPU than two, whose parallel aggregations build and merge
# a hash table each (the part's preparation: 2.54 -> 2.28 CPU s at 10,000 leads x 50 events)
PREPARE_THREADS = 1
# Processes preparing parts (`Preparers`). A part's preparation costs about twice the CPU of its history
# pass and write here (at 1M leads x 50 events: 162 against 93 CPU s), so with ONE preparing process the
# write waited for it (89 s at 1M) while a core idled, and the wall was that process's CPU in series.
# With two, the parts are prepared as fast as they are written: on 2 cores the three processes share
# both of them and none of them waits long. More cores would not call for more: a third process would
# mostly wait for the write (the serial part left) and hold one more part in memory (each holds its
# part's tables while it prepares it). With one thread each (PREPARE_THREADS), they do not oversubscribe.
PREPARERS = 2


class PartFailed(StoreError):
    """Preparing a part in the child process failed (nothing of the rescore is kept)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail  # the child's traceback, or the end of its stderr


def handed(prepared: Prepared) -> list[str]:
    """The DuckDB tables the history pass and the write read (see `writeback._write_split`)."""
    from leadscore.bulk.history_staging import LEADS
    from leadscore.bulk.lifecycle_split import PY
    from leadscore.bulk.lifecycle_walk import WALK
    from leadscore.bulk.write import ROWS_TABLE

    tables = [ROWS_TABLE, PY]
    if prepared.staged is not None:
        tables.append(LEADS)
        if prepared.staged.walk:
            tables.append(WALK)
    return tables


def save(prepared: Prepared, folder: Path) -> dict[str, Any]:
    """The handed tables written as Arrow IPC files in `folder`, batch by batch; the rest as a
    reply (`load` makes a Prepared of both)."""
    import pyarrow as pa

    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for table in handed(prepared):
        path = folder / f"{table}.arrow"
        reader = prepared.con.sql(f"SELECT * FROM {table}").fetch_arrow_reader(100_000)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
        files[table] = str(path)
    return {
        "files": files,
        "dims": prepared.dims,
        "leads": prepared.leads,
        "pure_parts": prepared.pure_parts,
        "n_py": prepared.n_py,
        "staged": prepared.staged,
        "seconds": prepared.seconds,
    }


def load(reply: dict[str, Any]) -> Prepared:
    """A Prepared in a new DuckDB connection of this process, from `save`'s reply (its files are
    removed once loaded: the tables are DuckDB's own, as the ones written, in the same order)."""
    from leadscore.batch.duckdb.run import connect

    con = connect()
    try:
        for table, path in reply["files"].items():
            _load_table(con, table, Path(path))
    except BaseException:
        con.close()
        raise
    return Prepared(
        con, reply["dims"], reply["leads"], reply["pure_parts"], reply["n_py"], reply["staged"], reply["seconds"]
    )


def _load_table(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    import pyarrow as pa

    with pa.memory_map(str(path)) as source:
        data: pa.Table = pa.ipc.open_stream(source).read_all()
    con.register("_bl_handed", data)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM _bl_handed")
    finally:
        con.unregister("_bl_handed")
        del data
        path.unlink(missing_ok=True)


class Ahead:
    """The child process that prepares parts: `send` part k + 1 before running part k, `receive` it
    after. `close` stops it (and waits, so its CPU is counted as this process's children's)."""

    def __init__(
        self, store: LeadStore, evaluator: Evaluator, at: int, folder: Path, events: RawEvents, name: str = "ahead"
    ) -> None:
        from leadscore.bulk.programs import spawn

        self.folder = folder
        self.log = (folder / f"{name}.log").open("w+b")  # `name`: one log per child
        try:
            self.proc = spawn(
                "leadscore.bulk.lifecycle_ahead",
                "serve",
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.log,
            )
        except BaseException:
            self.log.close()
            raise
        self.waiting: int | None = None
        setup = (store.url, evaluator.model, evaluator.fire_triggers, at, events)
        try:
            self._put(setup, "start")
        except BaseException:
            self.close()
            raise

    def send(self, part: int, ids: str, files: list[Path]) -> None:
        assert self.waiting is None
        request = ("part", part, ids, [str(p) for p in files], str(self.folder / f"h{part:06d}"))
        self._put(request, f"prepare part {part}")
        self.waiting = part

    def receive(self, part: int, handed_over: Callable[[], None] | None = None) -> Prepared:
        """Part `part` as the child prepared it; `handed_over` is called once the child has handed it over
        (its reply read), before its tables are loaded here. Raises PureNeeded, or PartFailed with the
        child's error."""
        assert self.waiting == part
        self.waiting = None
        try:
            with timeline.span("main", "wait", part):
                reply = pickle.load(self.proc.stdout)  # type: ignore[arg-type]
        except (EOFError, pickle.UnpicklingError, OSError) as exc:
            raise self._died(f"preparing part {part}") from exc
        if reply[0] == "pure":
            raise PureNeeded
        if reply[0] == "error":
            raise PartFailed(f"preparing part {part} of the rescore failed: {reply[1]}", reply[2])
        if handed_over is not None:
            handed_over()
        with timeline.span("main", "load", part):
            return load(reply[1])

    def close(self) -> None:
        proc = self.proc
        if proc.stdin is not None and not proc.stdin.closed:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # the child ends at the end of its input
        try:
            proc.wait(timeout=30 if self.waiting is None else 1)
        except subprocess.TimeoutExpired:
            proc.kill()  # still preparing a part nobody will read
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        self.log.close()

    def _put(self, message: object, what: str) -> None:
        try:
            assert self.proc.stdin is not None
            pickle.dump(message, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
        except OSError as exc:
            raise self._died(what) from exc

    def _died(self, what: str) -> PartFailed:
        code = self.proc.poll()
        if code is None:
            try:
                code = self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
        self.log.flush()
        self.log.seek(0)
        tail = self.log.read()[-4000:].decode("utf-8", "replace")
        last = next((line for line in reversed(tail.splitlines()) if line.strip()), "no message")
        message = f"the process that prepares the rescore's parts ended ({what}, exit code {code}): {last}"
        return PartFailed(message, tail)


class Preparers:
    """Parts prepared ahead by `n` child processes (`Ahead`, `n` PREPARERS by default) in turn: part k
    by child k % n, received here in order. The children start at once, `spill`'s files still to come:
    their interpreter and imports (about a CPU second each) run beside the spill's readers instead of
    after them, while no part could be prepared yet. `start` (the spill's files there) asks each
    child for its first part, and `receive(k)` asks part k's child for part k + n as soon as it handed
    part k over, so at most n parts are held ahead of the one this process writes. A failure in any
    child raises here (`Ahead.receive`); `close` stops them all."""

    def __init__(
        self,
        store: LeadStore,
        evaluator: Evaluator,
        at: int,
        spill: SpilledEvents,
        queries: list[str],
        n: int | None = None,
    ) -> None:
        self.spill, self.queries = spill, queries
        self.children: list[Ahead] = []
        try:
            for i in range(max(1, min(PREPARERS if n is None else n, len(queries)))):
                self.children.append(Ahead(store, evaluator, at, spill.folder, spill.events, f"ahead-{i}"))
        except BaseException:
            self.close()
            raise

    def start(self) -> None:
        """Each child asked for its first part (the spill's files written)."""
        for k in range(len(self.children)):
            self._send(k)

    def receive(self, k: int) -> Prepared:
        """Part `k` (the parts are received in order), its events' files removed; its child asked for
        part k + n as soon as it handed part k over, before part k's tables are loaded here: asked
        after the load, the child waited through it with nothing to do. On the first parts, which both
        children hand over at about the same time, both children then waited while this process loaded
        part 0 alone (1.9 s under load at 100,000 leads x 50 events, a core idle). Raises PureNeeded, or
        PartFailed with the child's error."""
        nxt = k + len(self.children)
        prepared = self.children[k % len(self.children)].receive(
            k, (lambda: self._send(nxt)) if nxt < len(self.queries) else None
        )
        self.spill.drop(k)
        return prepared

    def close(self) -> None:
        """Every child stopped and waited for (a child still preparing a part is killed: `Ahead.close`)."""
        for child in self.children:
            if child.proc.stdin is not None and not child.proc.stdin.closed:
                with contextlib.suppress(OSError):
                    child.proc.stdin.close()  # all told to end first: they end side by side
        for child in self.children:
            child.close()

    def _send(self, k: int) -> None:
        self.children[k % len(self.children)].send(k, self.queries[k], self.spill.files.get(k, []))


# -- the child -----------------------------------------------------------------------------------------
def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Prepare the parts asked for on `requests` until its end, each reply on `replies`."""
    import gc
    import time

    from leadscore.batch.duckdb.run import connect
    from leadscore.bulk.export import Unsupported
    from leadscore.bulk.lifecycle_prepare import prepare_part
    from leadscore.store import open_store
    from leadscore.store.pipeline import Evaluator

    url, model, fire, at, events = pickle.load(requests)
    store = open_store(url)
    evaluator = Evaluator(model, fire_triggers=fire)
    typing = connect(PREPARE_THREADS)  # every part's events typed in it (`RawEvents.typed`)
    timeline.record("prepare", "start", timeline.started(), time.monotonic())  # from its interpreter's start
    cpu = 0.0  # this process's CPU seconds (and its readers') reported so far
    frozen = False
    try:
        while True:
            try:
                request = pickle.load(requests)
            except EOFError:
                return
            _, part_no, ids, files, folder = request
            t0 = time.monotonic()
            reply: tuple[Any, ...]
            prepared = None
            try:
                try:  # the part's events typed here (`RawEvents`), not in the scan
                    typed = events.part([Path(f) for f in files], typing)
                except Unsupported:  # a value no typed slot holds: the pure path reads them
                    typed = None
                prepared = None if typed is None else prepare_part(store, evaluator, at, ids, typed, PREPARE_THREADS)
                del typed  # held by the run's connection until it closes
                if prepared is None:
                    reply = ("pure",)
                else:
                    try:
                        done = save(prepared, Path(folder))
                    finally:
                        prepared.con.close()
                    now = _cpu_s()
                    done["seconds"]["ahead_cpu"], cpu = now - cpu, now
                    reply = ("ok", done)
            except Exception as exc:  # handed to the parent, which raises it there
                reply = ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())
            del prepared
            gc.collect()  # the part's tables gone before the next request arrives
            if not frozen:  # what the first part imported and compiled stays: the next collections
                gc.freeze()  # leave it out (`lifecycle_parts.frozen_heap`); this process ends with the rescore
                frozen = True
            pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
            replies.flush()
            timeline.record("prepare", "prepare", t0, time.monotonic(), part_no)
    finally:
        typing.close()
        store.dispose()


def _cpu_s() -> float:
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] != "serve":
        print("usage: python -m leadscore.bulk.lifecycle_ahead serve  (requests on stdin)", file=sys.stderr)
        return 2
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed goes to the log, not into the replies
    serve(sys.stdin.buffer, replies)
    return 0


if __name__ == "__main__":
    # ended without the interpreter's teardown (every module's objects, Arrow's and DuckDB's memory
    # freed one by one): nothing is left to write once `main` returned, and the apply waits for before it commits
    # this process's end (0.3-0.8 s of it under load, while a core had nothing to run)
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
