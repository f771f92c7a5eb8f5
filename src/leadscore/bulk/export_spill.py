"""The events of a rescore in parts (`writeback._rescore_parts`) read from the store once, typed, and
kept on disk per part until the part runs.

Read part by part, every part's query looked its leads' events up through `ix_events_lead_ts`, at
random over the whole table (a store's events lie in arrival order), and started its readers again:
at 1M leads x 50 events in 10 parts, 87 CPU s in the readers and 84 in the process, against 26 + 22
for the one scan of the rules-only apply. Here the readers scan the table once in rowid order; each
batch's rows are cut by lead id at the parts' bounds into one Arrow file per part and reader, as the
readers read them (the properties as their JSON text), and typed as `export_store` types them
(`typed_slots.converter`, `RawEvents.typed`) when their part runs, all at once: the same rows, in the same
order (reader, then batch), as that part's own export. On a SQLite file each reader program cuts and
writes its own files (`export_adbc.adbc_spill`): the rows no longer cross a pipe into this process,
which decoded, cut and wrote them again (1.7-3.4 of its CPU s at 100,000 leads x 50 events). Disk:
about 110 bytes an event with the b2b example's properties (550 MB at 100,000 leads x 50 events), each
part's files removed once it ran.

The typing was done here, batch by batch, before the rows were cut: 2.6 of the 5.3 CPU s of this
scan at 100,000 leads x 50 events, in the process that then writes every part, while the one that
prepares the parts waited for the scan's end. Typed where the part is prepared (`lifecycle_ahead`,
beside the write of the part before), once per part, the scan only moves bytes.

On SQLite the ids compare byte by byte (the BINARY collation, which the parts' bounds use), as Arrow
compares strings (`part_of`). PostgreSQL orders text by its collation: there the database numbers each
lead's part (`export.part_sql`, the parts' own comparisons), once a lead (`LeadParts`), not once an
event in the scan: those comparisons under the collation were 1.5 of the scan's 5.0 server CPU s at
100,000 leads x 50 events. Read part by part, each part's query was a hash join over a sequential scan
of the whole events table (the planner's choice at 100,000 leads x 50 events): at 1M leads in 10
parts, 10 scans of 50M events.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leadscore.bulk.export import event_query, event_source, part_sql, reader_ranges, sqlite_path
from leadscore.bulk.spill_files import PartFiles, part_of
from leadscore.bulk.typed_slots import converter

__all__ = [
    "LeadParts",
    "RawEvents",
    "SpilledEvents",
    "part_of",
    "read_part",
    "spill_events",
    "spill_folder",
    "sweep_stale",
]

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import duckdb
    import numpy as np
    import pyarrow as pa

    from leadscore.bulk.export_adbc import Keyed
    from leadscore.model.spec import ScoringModel
    from leadscore.store.base import LeadStore


def read_part(paths: Sequence[Path], schema: pa.Schema) -> pa.Table:
    """A part's events from its files (`SpilledEvents.files`), memory-mapped, in their readers' order
    (the names sort so); no rows of `schema` when it has none."""
    import pyarrow as pa

    tables = []
    for path in sorted(paths, key=lambda p: p.name):
        with pa.memory_map(str(path)) as source:
            tables.append(pa.ipc.open_stream(source).read_all())
    return pa.concat_tables(tables) if tables else schema.empty_table()


PREFIX = "leadscore-parts-"
_OWNED = re.compile(rf"{PREFIX}(\d+)-")  # the id of the process that made the folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive, not ours to judge
        return True
    return True


def sweep_stale(folder: Path | None = None) -> list[Path]:
    """Remove the spill folders left in `folder` (the temporary directory) by processes that are gone
    (an apply killed or stopped before its end); the removed ones. A folder without a process id in its
    name (made by an older version) or of a live process is left alone: a reused id only keeps a
    folder longer."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        owner = _OWNED.match(path.name)
        if owner is None or not path.is_dir() or _alive(int(owner.group(1))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


@dataclass(frozen=True)
class RawEvents:
    """The spilled rows as the readers read them (`schema`), and how they are typed (`typed_slots.converter`'s
    arguments); picklable, for the process that prepares the parts (`lifecycle_ahead`)."""

    schema: pa.Schema
    plain: tuple[str, ...]
    keys: tuple[str, ...]
    raw: bool  # the properties as their JSON text `_p` (SQLite), else one JSON value a key

    def typed(self, table: pa.Table, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        """`table` (of `schema`) typed as `export_store` types its events, in one statement of `con`
        (default: a DuckDB connection of its own); raises `export.Unsupported` for a value no typed
        slot holds. The process that prepares every part passes one connection kept for all of them: a
        part of 10,000 leads x 50 events typed in a connection opened for it cost 0.24 CPU s, in the
        kept one 0.20 (its opening, and the first statement's allocations, once a process)."""
        import duckdb

        if con is not None:
            return converter(con, self.plain, self.keys, self.raw)(table)
        own = duckdb.connect()
        try:
            return converter(own, self.plain, self.keys, self.raw)(table)
        finally:
            own.close()

    def part(self, paths: Sequence[Path], con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
        """The typed events of a part's files (`SpilledEvents.files`), in `con` as `typed`; raises
        `export.Unsupported`."""
        return self.typed(read_part(paths, self.schema), con)


class SpilledEvents:
    """The events of each part, in files of a folder of their own (removed by `close`)."""

    def __init__(self, folder: Path, events: RawEvents) -> None:
        self.folder = folder
        self.events = events  # the files' columns, and how they are typed
        self.files: dict[int, list[Path]] = {}

    def table(self, part: int) -> pa.Table:
        """The part's typed events (`typed_slots.converter`'s columns); raises `export.Unsupported`."""
        return self.events.part(self.files.get(part, []))

    def drop(self, part: int) -> None:
        """The part's files removed (it ran)."""
        for path in self.files.pop(part, []):
            path.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def spill_folder(store: LeadStore, model: ScoringModel, at: int, ids: str | None) -> SpilledEvents:
    """The folder `spill_events` fills and the form of its rows (`RawEvents`), nothing read yet: the
    processes that prepare the parts are started with them while the events are read."""
    query = event_query(store, model, at, ids)
    return _folder(RawEvents(query.schema, tuple(query.plain), query.keys, query.raw))


def spill_events(
    store: LeadStore,
    model: ScoringModel,
    at: int,
    ids: str | None,
    starts: Sequence[str],
    in_database: bool = False,
    into: SpilledEvents | None = None,
) -> SpilledEvents:
    """The events `export_store(store, model, at, ids=...)` reads, cut into the parts that begin at
    `starts` (sorted; the first part also holds the ids below its start), untyped (`RawEvents`), in
    `into` (`spill_folder`'s, of the same arguments) or a folder of their own.
    `in_database`: each lead's part is computed by the database in its collation (`LeadParts`,
    PostgreSQL), not by `part_of` in byte order. On a SQLite file large enough for the reader programs,
    each reader writes its own part files (`export_adbc.adbc_spill`); else the rows are read and cut
    here."""
    from leadscore.bulk.export_adbc import adbc_spill

    spill = spill_folder(store, model, at, ids) if into is None else into
    try:
        path = None if in_database else sqlite_path(store)
        ranges = None if path is None else reader_ranges(store, "events", "seq")
        if path is None or ranges is None:
            _spill_here(store, model, at, ids, starts, in_database, spill)
        else:
            query = event_query(store, model, at, ids)
            spill.files = adbc_spill(path, query.sql, "events", "seq", query.schema, ranges, spill.folder, starts)
    except BaseException:
        if into is None:
            spill.close()
        raise
    return spill


def _folder(events: RawEvents) -> SpilledEvents:
    """A new spill folder of this process (stale ones swept first)."""
    sweep_stale()
    return SpilledEvents(Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")), events)


def _spill_here(
    store: LeadStore,
    model: ScoringModel,
    at: int,
    ids: str | None,
    starts: Sequence[str],
    in_database: bool,
    spill: SpilledEvents,
) -> None:
    """`spill_events` with the rows read and cut in this process, into `spill`'s folder."""
    batches, _, _, schema, _ = event_source(store, model, at, ids)
    lead_parts = LeadParts(store, starts) if in_database else None
    files: dict[int, PartFiles] = {}  # by reader
    try:
        for (reader, _), batch in batches:  # each reader's batches arrive in their order
            import pyarrow as pa

            rows = pa.Table.from_batches([batch])
            if rows.schema != schema:
                rows = rows.cast(schema)
            lead_ids = rows.column("lead_id")
            parts = part_of(lead_ids, starts) if lead_parts is None else lead_parts.of(lead_ids)
            if reader not in files:
                files[reader] = PartFiles(spill.folder, schema, reader)
            files[reader].write(rows, parts, len(starts))
    except BaseException:
        _stop(batches)
        _close(files)
        raise
    _close(files)
    for reader in sorted(files):
        for part, path in files[reader].paths.items():
            spill.files.setdefault(part, []).append(path)


class LeadParts:
    """Each lead id's part among the parts beginning at `starts`, as the database's collation orders
    them (`export.part_sql` over the ids, the parts' own comparisons), asked once per id and kept.

    The events' scan numbered each event's part itself: nine comparisons under the collation per event
    (10 parts), 1.5 of the scan's 5.0 server CPU s at 100,000 leads x 50 events. Here the database
    compares each lead's id once, asked for the ids of a batch not seen before (a batch of the scan
    holds the events of a few thousand leads), and each row's part is looked up in this process
    (a hash of the batch's distinct ids, in Arrow)."""

    def __init__(self, store: LeadStore, starts: Sequence[str]) -> None:
        self.store = store
        # the driver reads `%s` as the parameter: a `%` of the CASE's literals (the ids) is doubled
        cases = part_sql(starts, "x").replace("%", "%%")
        self.sql = f"SELECT x, {cases} FROM unnest(CAST(%s AS text[])) AS t(x)"
        self.known: dict[str, int] = {}

    def of(self, lead_ids: pa.ChunkedArray) -> np.ndarray:
        """The part of each of `lead_ids` (no nulls: `events.lead_id` is NOT NULL), as int32."""
        import numpy as np
        import pyarrow.compute as pc

        distinct = pc.unique(lead_ids)
        names: list[str] = distinct.to_pylist()
        if new := [n for n in names if n not in self.known]:
            self._ask(new)
        at = pc.index_in(lead_ids, value_set=distinct).to_numpy()
        return np.fromiter((self.known[n] for n in names), dtype=np.int32, count=len(names))[at]

    def _ask(self, names: list[str]) -> None:
        with self.store.read() as conn:
            raw: Any = conn.connection.driver_connection
            with raw.cursor() as cur:
                cur.execute(self.sql, (names,))
                self.known.update((str(n), int(k)) for n, k in cur.fetchall())


def _stop(batches: Iterator[Keyed]) -> None:
    close = getattr(batches, "close", None)
    if close is not None:  # the readers stop now, not when the traceback lets the generator go
        close()


def _close(files: dict[int, PartFiles]) -> None:
    for f in files.values():
        f.close()
