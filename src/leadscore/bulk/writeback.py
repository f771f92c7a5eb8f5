"""`model apply` / `refresh` in bulk: the stored leads rescored by the batch engine over the store
(`bulk.rescore`) and written back in one transaction (`bulk.write`), exactly as `Evaluator.rescore`
would store them.

Writing needs a model without predictive dimensions; with a lifecycle or triggers to fire, only the
leads whose stored rows the query's row gives exactly are written in bulk, the others are rescored by
the pure scorer in the same transaction (`lifecycle_split`, `lifecycle_history`). Such a model over
more than `PART_LEADS` leads is rescored part by part (`lifecycle_parts`), still in one transaction.
"""

from __future__ import annotations

import contextlib
import gc
import time
from typing import TYPE_CHECKING

from leadscore.bulk import timeline
from leadscore.bulk.lifecycle_ahead import Preparers
from leadscore.bulk.lifecycle_prepare import (
    Prepared,
    PureNeeded,
    prepare_part,
    shape_rows,
    split_leads,
    staged_history,
)
from leadscore.bulk.rescore import BatchRescored, _run, writable

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import duckdb
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

    from leadscore.bulk.export_spill import SpilledEvents
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator
    from leadscore.triggers.firings import TriggerFiring

PY_TEMP = "_ls_py_leads"  # in the store: the leads whose stage-history rows `store_history` writes
# Leads per part of a lifecycle rescore: the export, the replay's tables and the history pass hold one
# part at a time (at 100,000 leads x 50 events the whole run peaked at 2.2-2.4 GiB; at 1M it passed 15).
PART_LEADS = 100_000
# the next parts prepared in child processes while this one writes (`lifecycle_ahead.Preparers`), where
# the parts' events are on disk (a SQLite file, PostgreSQL); False: every part in this process
AHEAD = True

__all__ = ["PART_LEADS", "rescore_store"]


def _sqlite_text(store: LeadStore, statements: Sequence[sa.Executable]) -> list[str]:
    """The statements as SQL text for the ADBC writer's own connection (values inlined)."""
    from sqlalchemy.sql import ClauseElement

    dialect = store.engine.dialect
    out = []
    for stmt in statements:
        assert isinstance(stmt, ClauseElement)
        out.append(str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})))
    return out


@contextlib.contextmanager
def _page_cache(store: LeadStore, conn: Connection) -> Iterator[None]:
    """SQLite: the write transaction's connection with the bulk writer's page cache
    (`write.CACHE_KIB`, allocated as used) while it runs, then its own again (a pooled connection).
    The upsert, the stage rows and the history pass's reads move through the results and their
    indexes at random: with the store's 64 MiB, a large store's pages are read again and again.

    The temporary tables (each part's rows, `write.TEMP`, and the history pass's) without
    `secure_delete` meanwhile: dropping a part's rows overwrote each of their pages with zeros first
    (0.29 of write_rows' 2.9 CPU s at 100,000 leads in 10 parts). They are copies of what the
    transaction writes into the store, in the connection's own temporary file, which no other
    connection reads and which goes with the connection; the store's file keeps `secure_delete`
    (`erase`).

    PostgreSQL: the transaction's `work_mem` raised (`write.WRITE_WORK_MEM`, SET LOCAL: it ends with
    the transaction). With the server's default 4 MB, the write statement of a part of 10,000 leads
    (`write.postgres_write_sql`) hashed the loaded rows and sorted the upsert's (about 12 MB) in
    temporary files, and the outbox's staged payloads were sorted on disk as well."""
    from leadscore.bulk.write import CACHE_KIB, WRITE_WORK_MEM

    if store.sqlite_file() is None:
        if store.name == "postgres":
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{WRITE_WORK_MEM}'")
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    kept = [(db, raw.execute(f"PRAGMA {db}.cache_size").fetchone()[0]) for db in ("main", "temp")]
    secure = raw.execute("PRAGMA temp.secure_delete").fetchone()[0]
    for db, _ in kept:
        raw.execute(f"PRAGMA {db}.cache_size={-int(CACHE_KIB)}")
    raw.execute("PRAGMA temp.secure_delete=OFF")
    try:
        yield
    finally:
        for db, size in kept:
            raw.execute(f"PRAGMA {db}.cache_size={int(size)}")
        raw.execute(f"PRAGMA temp.secure_delete={int(secure)}")


def _fallback_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    from leadscore.batch.duckdb.run import RESULT

    return [str(r[0]) for r in con.execute(f"SELECT lead_id FROM {RESULT} WHERE fallback ORDER BY lead_id").fetchall()]


def rescore_store(
    store: LeadStore,
    evaluator: Evaluator,
    at: int,
    cause: str,
    *,
    ids: str | None = None,
    adbc_min_rows: int | None = None,
    activation: Sequence[sa.Executable] = (),
    part_leads: int | None = None,
) -> BatchRescored | None:
    """Rescore the stored leads at `at` through DuckDB and store results and score history in one
    transaction, exactly as `Evaluator.rescore` would store them (cause `cause`).

    `ids`: an SQL query over the store giving one column of lead ids to rescore (default: every
    lead). None when the model or the data needs the pure scorer (nothing was written then).
    On a SQLite file, at least `adbc_min_rows` results (default `store_write.ADBC_MIN_ROWS`) are
    written through ADBC, in a transaction of the writer's own. `activation` (model apply's statements
    that make the model active) runs in the same transaction as the writes, whichever writes them.

    A model with a lifecycle or triggers over more than `part_leads` leads (default PART_LEADS) is
    rescored part by part (`_rescore_parts`), so memory is bounded by the part, not the store.
    """
    from leadscore.bulk import lifecycle_split as life
    from leadscore.bulk.export import sqlite_path
    from leadscore.bulk.write import ADBC_MIN_ROWS, ROWS_TABLE, TEMP, stored_rowids, write_sqlite

    if not writable(evaluator):
        return None
    split = life.needs_split(evaluator)
    if split:
        from leadscore.bulk.lifecycle_parts import bounds

        starts = bounds(store, ids, PART_LEADS if part_leads is None else part_leads)
        if len(starts) > 1:
            return _rescore_parts(store, evaluator, at, cause, starts, ids, activation)
    run = _run(store, evaluator, at, ids, next_change=True, split=split)
    if run is None:
        return None
    try:
        if run.plan is None:
            return None
        t = time.perf_counter()
        n_py = 0
        if split:
            sorted_out = split_leads(store, run, evaluator, at, ids)
            if sorted_out is None:
                return None
            pure_parts, n_py = sorted_out
        else:
            fallback = _fallback_ids(run.con)
            pure_parts = [fallback[i : i + life.PURE_CHUNK] for i in range(0, len(fallback), life.PURE_CHUNK)]
        n_pure = sum(len(part) for part in pure_parts)
        shape_rows(run, at, split)
        seconds = dict(run.stats.seconds)
        seconds["shape"] = time.perf_counter() - t
        dims = run.plan.dimensions
        t = time.perf_counter()
        path = sqlite_path(store)
        minimum = ADBC_MIN_ROWS if adbc_min_rows is None else adbc_min_rows
        lifecycle = evaluator.model.lifecycle is not None
        if path is not None and not n_pure and not n_py:
            rows = run.con.execute(f"SELECT count(*) FROM {ROWS_TABLE}").fetchall()[0][0]
            if rows >= minimum:
                text = _sqlite_text(store, activation)
                before = [life.stage_rows_sql(store, at, cause, TEMP)] if lifecycle else []
                rowids = stored_rowids(path)
                seconds["write_rowids"] = time.perf_counter() - t
                changed = write_sqlite(
                    path, run.con, dims, at, cause, activation=text, before=before, seconds=seconds, rowids=rowids
                )
                seconds["write"] = time.perf_counter() - t
                return BatchRescored(leads=run.stats.leads, changed=changed, seconds=seconds)

        extra: list[str] = []  # leads `store_history` handed back to the pure scorer (kept over retries)
        prepared = Prepared(
            run.con, list(dims), run.stats.leads, pure_parts, n_py, staged_history(run, evaluator, at, n_py)
        )
        seconds["stage"] = run.stats.seconds.get("stage", 0.0)

        def work(conn: Connection) -> BatchRescored:
            # a retried transaction starts over: nothing of an attempt that rolled back is kept
            with _page_cache(store, conn):
                done = _write_split(store, conn, prepared, evaluator, at, cause, extra, seconds)
            for stmt in activation:
                conn.execute(stmt)
            return done

        done = store.transact(work)
        seconds["write"] = time.perf_counter() - t - seconds.get("pure", 0.0) - seconds.get("history", 0.0)
        done.seconds = seconds
        return done
    finally:
        run.con.close()


def _write_split(
    store: LeadStore,
    conn: Connection,
    prepared: Prepared,
    evaluator: Evaluator,
    at: int,
    cause: str,
    extra: list[str],
    seconds: dict[str, float],
    payloads: bool = True,
) -> BatchRescored:
    """Inside the caller's write transaction: the history pass of PY's leads (`finish`), the rows of
    `_st_rows` with the quiet leads' stage rows, then the pure scorer for the prepared pure parts and
    the leads the history pass handed back (added to `extra`, which a retry of the same run reuses).
    Reads only the tables `lifecycle_ahead.handed` names. `payloads`: the history pass's firings
    carry their payloads (`finish`)."""
    import pyarrow as pa

    from leadscore.bulk import lifecycle_split as life
    from leadscore.bulk.history_staging import LEADS
    from leadscore.bulk.lifecycle_history import finish
    from leadscore.bulk.write import ROWS_TABLE, TEMP, write_rows

    con, n_py, pure_parts = prepared.con, prepared.n_py, prepared.pure_parts
    n_pure = sum(len(part) for part in pure_parts)
    done = BatchRescored(leads=prepared.leads, fallback_leads=n_pure, history_leads=n_py)
    histories: dict[str, str] = {}  # the stage history text of each lead `finish` replayed
    p = time.perf_counter()
    raw = conn.connection.driver_connection
    if n_py:  # replays finished in Python: their history, stage rows and outbox messages
        assert prepared.staged is not None
        with timeline.span("main", "history"):
            fired, disagree, histories = finish(store, conn, con, evaluator, at, cause, prepared.staged, payloads)
        done.firings.extend(fired)
        if disagree:  # rescored whole by the pure scorer below instead (and on a retry too)
            con.register("_bl_disagree", pa.table({"lead_id": pa.array(disagree, pa.string())}))
            for table in (ROWS_TABLE, life.PY, LEADS):
                con.execute(f"DELETE FROM {table} WHERE lead_id IN (SELECT lead_id FROM _bl_disagree)")
            con.unregister("_bl_disagree")
            extra.extend(disagree)
        py_ids = con.execute(f"SELECT lead_id FROM {life.PY}").fetchall()
        store.load_temp(raw, f"CREATE TEMP TABLE {PY_TEMP} (lead_id TEXT PRIMARY KEY)", PY_TEMP, "lead_id", py_ids)
    seconds["history"] = seconds.get("history", 0.0) + time.perf_counter() - p
    lifecycle = evaluator.model.lifecycle is not None
    before = [life.stage_rows_sql(store, at, cause, TEMP, PY_TEMP if n_py else None)] if lifecycle else []
    with timeline.span("main", "write"):
        done.changed = write_rows(store, conn, con, prepared.dims, at, cause, before=before, histories=histories)
    if n_py:
        store.drop_temp(raw, PY_TEMP)
    # leads the query's rows do not give exactly: the pure scorer, part by part, same transaction
    p = time.perf_counter()
    done.fallback_leads += len(extra)
    for part in [*pure_parts, *([sorted(extra)] if extra else [])]:
        store.lock_leads(conn, part)
        more = evaluator.rescore(store, conn, part, at, cause, skip_bad=cause == "refresh")
        done.changed += more.changed
        done.firings.extend(more.firings)
        # a refresh leaves a lead it cannot score as it was; its batches, which run next, report it
        done.leads -= len(more.failed)
    seconds["pure"] = seconds.get("pure", 0.0) + time.perf_counter() - p
    done.history_leads = n_py - len(extra)
    return done


def _write_part(
    store: LeadStore,
    conn: Connection,
    evaluator: Evaluator,
    at: int,
    cause: str,
    prepared: Prepared,
    seconds: dict[str, float],
    part: int,
) -> BatchRescored:
    """Part `part` of `_rescore_parts`, in the caller's transaction; its DuckDB connection closed on return."""
    try:
        for name, value in prepared.seconds.items():
            seconds[name] = seconds.get(name, 0.0) + value
        t = time.perf_counter()
        # the firings' payloads are dropped (`_counted`): the history pass need not give them whole
        with timeline.span("main", "part", part):
            got = _write_split(store, conn, prepared, evaluator, at, cause, [], seconds, payloads=False)
        seconds["write"] = seconds.get("write", 0.0) + time.perf_counter() - t
        return got
    finally:
        prepared.con.close()


def _rescore_parts(
    store: LeadStore,
    evaluator: Evaluator,
    at: int,
    cause: str,
    starts: list[str],
    ids: str | None,
    activation: Sequence[sa.Executable],
) -> BatchRescored | None:
    """`rescore_store` of a model with a lifecycle or triggers over the leads `ids` selects, part by
    part (`lifecycle_parts`: disjoint lead id ranges from each of `starts` to the next, a lead never
    split) one after the other, inside ONE write transaction that ends with `activation`: all or
    nothing, as the single run. Each part is exported, scored, split, its history finished and its
    rows written before the next one is read, and its DuckDB connection closed, so memory is bounded
    by the part (the firings returned carry no payload: `_counted`). On a SQLite file and on PostgreSQL
    the events of every part are read first, in one scan (`export_spill`), and kept on disk until
    their part runs; then (with AHEAD) the parts are prepared in child processes, in turn, while the
    parts before them are written here (`lifecycle_ahead.Preparers`, started beside the scan). The
    last parts are smaller (`lifecycle_parts.part_sizes`). Reads go through other
    connections (the export's readers, the children's), inside this transaction: they see the store
    as it was committed before it, so a part's stored results and stages are the ones its writes
    replace. None (nothing written) when some part needs the pure scorer for every lead, as the
    single run decides."""
    from leadscore.bulk.lifecycle_parts import frozen_heap, part_queries
    from leadscore.bulk.results_indexes import drop as drop_indexes
    from leadscore.bulk.results_indexes import rebuild as rebuild_indexes
    from leadscore.bulk.results_indexes import worth_it

    seconds: dict[str, float] = {}
    queries = part_queries(starts, ids)

    def work(conn: Connection) -> BatchRescored:
        seconds.clear()  # a retry starts over, every part included
        with timeline.span("main", "parts"):
            done = _parts(conn)
        for stmt in activation:
            conn.execute(stmt)
        return done

    def _parts(conn: Connection) -> BatchRescored:
        done = BatchRescored()
        spill = _spill_folder(store, evaluator, at, ids)
        ahead = None
        try:
            if spill is not None and AHEAD:  # the next parts prepared there while each is written here
                ahead = Preparers(store, evaluator, at, spill, queries)
            if spill is not None:
                with timeline.span("main", "spill"):
                    spill = _spill(store, evaluator, at, ids, starts, seconds, spill)
            if ahead is not None:
                ahead.start()
            dropped: list[tuple[str, str]] | None = None  # SQLite: the results' indexes left out (`results_indexes`)
            with _page_cache(store, conn), frozen_heap():
                for k, part_ids in enumerate(queries):
                    if ahead is not None:
                        t = time.perf_counter()
                        prepared = ahead.receive(k)
                        seconds["ahead_wait"] = seconds.get("ahead_wait", 0.0) + time.perf_counter() - t
                    else:
                        prepared = _prepare_here(store, evaluator, at, part_ids, spill, k)
                    got = _write_part(store, conn, evaluator, at, cause, prepared, seconds, k)
                    del prepared
                    if k == 0 and k + 1 < len(queries) and store.name == "sqlite" and worth_it(got.leads, got.changed):
                        dropped = drop_indexes(conn.connection.driver_connection)
                    # the part's Arrow tables and DuckDB connection are gone once its function returned; a
                    # cycle left (the run's class) must not keep them while the next part is exported.
                    # What is left alive is kept to the end (the firings counted): frozen, the next
                    # parts' collections do not walk it again (at 1M leads, 694,000 firings by the end)
                    gc.collect()
                    gc.freeze()
                    if spill is not None:
                        spill.drop(k)
                    done.leads += got.leads
                    done.changed += got.changed
                    done.fallback_leads += got.fallback_leads
                    done.history_leads += got.history_leads
                    done.firings.extend(_counted(got.firings))
                if dropped is not None:
                    rebuild_indexes(conn.connection.driver_connection, dropped)
        finally:
            if ahead is not None:
                ahead.close()
            if spill is not None:
                spill.close()
        return done

    try:
        done = store.transact(work)
    except PureNeeded:
        return None
    seconds["write"] = seconds.get("write", 0.0) - seconds.get("pure", 0.0) - seconds.get("history", 0.0)
    seconds["parts"] = float(len(queries))
    done.seconds = seconds
    return done


def _prepare_here(
    store: LeadStore, evaluator: Evaluator, at: int, ids: str, spill: SpilledEvents | None, k: int
) -> Prepared:
    """Part `k` prepared in this process (its events from `spill` when the one scan read them)."""
    from leadscore.bulk.export import Unsupported

    try:
        events = spill.table(k) if spill is not None else None
    except Unsupported as exc:  # a value no typed slot holds: the pure path reads them
        raise PureNeeded from exc
    prepared = prepare_part(store, evaluator, at, ids, events)
    del events  # held by the run's connection until it closes
    if prepared is None:
        raise PureNeeded
    return prepared


def _counted(firings: list[TriggerFiring]) -> list[TriggerFiring]:
    """A part's firings as the rescore in parts returns them: without their payloads. Each payload is
    its lead's whole result, already in the outbox row this transaction wrote; the callers count the
    firings (and tests compare their keys). Kept whole, over 1M leads they grew the apply's memory
    part after part and made every garbage collection between parts walk them."""
    from leadscore.triggers.firings import TriggerFiring

    # made field by field: `dataclasses.replace` checks its arguments for each (4.6 against 2.3 us a firing);
    # the history pass's come without a payload already (`finish`' `payloads`): kept as they are
    return [
        f
        if not f.payload
        else TriggerFiring(f.trigger_id, f.lead_id, f.destination, f.at, f.kind, f.from_value, f.to_value, {}, f.key)
        for f in firings
    ]


def _spill_folder(store: LeadStore, evaluator: Evaluator, at: int, ids: str | None) -> SpilledEvents | None:
    """The folder every part's events are spilled to (`export_spill.spill_folder`) on a SQLite file or
    PostgreSQL; None elsewhere (each part reads its own)."""
    from leadscore.bulk.export import sqlite_path
    from leadscore.bulk.export_spill import spill_folder
    from leadscore.bulk.rescore import export_at

    if (sqlite_path(store) is None and not store.copy_export) or not store.bulk:
        return None
    return spill_folder(store, evaluator.model, export_at(evaluator, at), ids)


def _spill(
    store: LeadStore,
    evaluator: Evaluator,
    at: int,
    ids: str | None,
    starts: list[str],
    seconds: dict[str, float],
    spill: SpilledEvents,
) -> SpilledEvents:
    """Every part's events in one scan (`export_spill`) into `spill` (`_spill_folder`'s; on PostgreSQL its
    parts numbered by the database), returned. They are typed when their part is prepared (`RawEvents`),
    which raises PureNeeded when they cannot be (the pure path reads them)."""
    from leadscore.bulk.export_spill import spill_events
    from leadscore.bulk.rescore import export_at

    t = time.perf_counter()
    in_database = store.copy_export  # PostgreSQL: ids in its collation's order
    spill_events(store, evaluator.model, export_at(evaluator, at), ids, starts, in_database, spill)
    seconds["export_events"] = time.perf_counter() - t
    return spill
