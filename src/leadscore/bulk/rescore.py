"""The batch engine over a lead store: the store exported into Arrow (`store_export`), scored in
DuckDB, and, for `model apply` / `refresh`, written back in bulk (`store_write`).

`model plan` (`score_store`) needs only a model without triggers and predictive dimensions.
Writing (`rescore_store`) needs a model without predictive dimensions; with a lifecycle or triggers
to fire, only the leads whose stored rows the query's row gives exactly are written in bulk, the
others are rescored by the pure scorer in the same transaction (`store_lifecycle`). Event ids are
the store's event keys,
unique by the log's constraint, so no duplicate pass runs; input order is the log's sequence, as
`load_timelines` orders ties.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from leadscore.bulk.export import Unsupported, export_store
from leadscore.domain.result import Result
from leadscore.model.spec import ScoringModel
from leadscore.store.codec import NO_PLAYBOOK_RANK, UNPRIORITISED_RANK
from leadscore.store.pipeline import Rescored

if TYPE_CHECKING:
    from collections.abc import Sequence

    import duckdb
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

PY_TEMP = "_ls_py_leads"  # in the store: the leads whose stage-history rows `store_history` writes
# Leads per part of a lifecycle rescore: the export, the replay's tables and the history pass hold one
# part at a time (at 100,000 leads x 50 events the whole run peaked at 2.2-2.4 GiB; at 1M it passed 15).
PART_LEADS = 100_000

__all__ = ["BatchRescored", "Unsupported", "eligible", "rescore_store", "score_store", "writable"]


@dataclass
class BatchRescored(Rescored):
    """A rescore done by the batch engine: which engine, and how long each phase took."""

    engine: str = "duckdb"
    fallback_leads: int = 0  # rescored by the pure scorer
    history_leads: int = 0  # rows from the query, stage history and firings from `store_history`
    seconds: dict[str, float] = field(default_factory=dict)


def eligible(model: ScoringModel, evaluator: Evaluator) -> bool:
    """The batch engine can score it (a lifecycle is replayed in SQL or by its fallback), and is installed
    (the batch extra; without it the store takes the pure path)."""
    from leadscore._extras import available

    return not model.triggers and not evaluator.scorer.predictive and available("batch")


def writable(evaluator: Evaluator) -> bool:
    """The batch engine can rescore the store for `model apply` / `refresh`: no predictive dimension
    (a lifecycle and triggers are written for the leads the query decides, see `store_lifecycle`),
    and the batch engine is installed."""
    from leadscore._extras import available

    return not evaluator.scorer.predictive and available("batch")


def _batch_run(
    model: ScoringModel, leads: object, events: object, at: int, con: object, next_change: bool, split: bool
) -> BatchRun:
    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.domain.timeutil import from_micros

    class _StoreRun(BatchRun):
        def _fallback(self) -> None:
            """Nothing: the store's pure path rescores these leads itself, writing their history."""

        def _replay(self) -> None:
            """The replay in SQL for every lead that may have moved, keeping each automatic condition
            at each event time (`store_history.CONDS`): the history is finished from them in Python.
            (The engine's own `_replay`, but for which leads and that the conditions stay.)"""
            from leadscore.batch.duckdb.run import RESULT
            from leadscore.bulk.frames import conditions_table
            from leadscore.bulk.lifecycle_history import CONDS
            from leadscore.bulk.lifecycle_split import init_sql, moved_sql
            from leadscore.bulk.lifecycle_walk import drop_idle
            from leadscore.sql.query import build_query

            con = self.con
            con.execute(
                f"UPDATE {RESULT} SET needs_replay = TRUE WHERE NOT fallback AND lead_id IN ("
                f"SELECT x.lead_id FROM {RESULT} AS x JOIN leads AS l ON l.id = x.lead_id "
                f"WHERE x.stage IS DISTINCT FROM {init_sql(self, 'l')} OR x.lead_id IN ({moved_sql(self.model, at)}))"
            )
            con.execute(f"CREATE OR REPLACE TEMP TABLE _ls_rp_ids AS SELECT lead_id FROM {RESULT} WHERE needs_replay")
            row = con.execute("SELECT count(*) FROM _ls_rp_ids").fetchall()[0]
            self.stats.replayed_leads = int(row[0]) if row else 0
            if not self.stats.replayed_leads:
                return
            # the window aggregates by NumPy where it can (`frames`): the window operator cost most
            conditions_table(
                con,
                self.model,
                self.schema,
                self.at,
                "_ls_rp_ids",
                CONDS,
                dedupe=False,
                dups_table=None,
                lookups=self.lookups,
                null_ids=self.null_ids,
            )
            drop_idle(con, CONDS, self.model, at, "_ls_rp_ids")
            plan = build_query(
                self.model,
                self.schema,
                self.at,
                dedupe=False,
                event_leads=self.event_leads,
                only="_ls_rp_ids",
                replay=CONDS,
                next_change=self.next_change,
                lookups=self.lookups,
                null_ids=self.null_ids,
            )
            con.execute(f"DELETE FROM {RESULT} WHERE lead_id IN (SELECT lead_id FROM _ls_rp_ids)")
            con.execute(f"INSERT INTO {RESULT} BY NAME {plan.sql}")

    return (_StoreRun if split else BatchRun)(
        model,
        leads,
        events,
        from_micros(at),
        con=con,  # type: ignore[arg-type]
        dedupe="never",
        event_leads=False,
        next_change=next_change,
        check_numbers=False,
        # the store holds ids and types as its ingest wrote them: stripping them again cost twice the
        # rest of the scoring query (6.0 against 1.8 CPU s at 100,000 leads x 50 events)
        stored=True,
    )


def _before_scores(
    evaluator: Evaluator, leads: object, events: object, at: int, con: duckdb.DuckDBPyConnection
) -> bool:
    """Per score_changed window, the batch engine's total at T - within (`store_lifecycle.before_table`);
    False when some lead needs the pure scorer for it (then every lead takes the pure path)."""
    from leadscore.batch.duckdb.run import RESULT
    from leadscore.bulk.lifecycle_split import before_table, score_windows, scores_only

    for k, window in enumerate(score_windows(evaluator)):
        before = _batch_run(scores_only(evaluator.model), leads, events, at - window, con, False, False)
        if before.plan is None or before.stats.fallback_leads:
            return False
        con.execute(f"CREATE OR REPLACE TEMP TABLE {before_table(k)} AS SELECT lead_id, score FROM {RESULT}")
    return True


def _run(
    store: LeadStore, evaluator: Evaluator, at: int, ids: str | None, next_change: bool, split: bool = False
) -> BatchRun | None:
    """The batch engine over the store's export. With `split` (model apply / refresh of a model with a
    lifecycle or triggers): no fallback scoring (the pure path rescores those leads), and the scores at
    T - within of the score_changed triggers first."""
    from leadscore.batch.duckdb.run import connect
    from leadscore.bulk.lifecycle_split import score_windows

    con = connect()
    t = time.perf_counter()
    windows = score_windows(evaluator) if split else []
    # score_changed triggers compare with the score at T - within: export what that time reads too
    try:
        lead_table, ev_table = export_store(store, evaluator.model, at - max(windows, default=0), con, ids=ids)
    except Unsupported:
        con.close()
        return None
    exported = time.perf_counter() - t
    t = time.perf_counter()
    if windows and not _before_scores(evaluator, lead_table, ev_table, at, con):
        con.close()
        return None
    before = time.perf_counter() - t
    run = _batch_run(evaluator.model, lead_table, ev_table, at, con, next_change, split)
    run.stats.seconds["export"] = exported
    if windows:
        run.stats.seconds["before"] = before
    return run


def score_store(store: LeadStore, evaluator: Evaluator, at: int, batch_size: int = 5000) -> Iterator[Rescored] | None:
    """Every stored lead scored by the batch engine, in batches shaped like `score_all`'s (results and
    previous results kept, nothing written); None when the model or the data needs the pure scorer."""
    if not eligible(evaluator.model, evaluator):
        return None
    run = _run(store, evaluator, at, None, next_change=False)
    if run is None:
        return None
    results = sorted((Result.from_dict(d) for d in run.to_dicts()), key=lambda r: r.lead_id)
    run.con.close()
    return _batches(store, results, batch_size)


def _batches(store: LeadStore, results: list[Result], batch_size: int) -> Iterator[Rescored]:
    from leadscore.store.codec import result_of
    from leadscore.store.pipeline import _differs
    from leadscore.store.results_repo import load_result_rows

    for part in _chunks(results, batch_size):
        with store.read() as conn:
            previous = load_result_rows(conn, [r.lead_id for r in part])
        done = Rescored(leads=len(part), results=list(part))
        done.previous = {k: result_of(row) for k, row in previous.items()}
        done.changed = sum(1 for r in part if _differs(previous.get(r.lead_id), r))
        yield done


def _chunks(items: list[Result], size: int) -> Iterable[list[Result]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# -- model apply / refresh --------------------------------------------------------------------------
def _sqlite_text(store: LeadStore, statements: Sequence[sa.Executable]) -> list[str]:
    """The statements as SQL text for the ADBC writer's own connection (values inlined)."""
    from sqlalchemy.sql import ClauseElement

    dialect = store.engine.dialect
    out = []
    for stmt in statements:
        assert isinstance(stmt, ClauseElement)
        out.append(str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})))
    return out


def _shape_rows(run: BatchRun, at: int, split: bool = False) -> None:
    """DuckDB table `_st_rows`: one `results` row per lead the query decided (JSON as text), with the
    next stored event after `at` folded into `next_change_at` as `Evaluator.next_change` does. With
    `split`, only the leads `store_lifecycle.split` left out of PURE, with their stage and replay."""
    from leadscore.batch.duckdb.run import RESULT
    from leadscore.bulk.lifecycle_split import FIRST, PURE, stage_json
    from leadscore.bulk.write import ROWS_TABLE
    from leadscore.sql.result_shape import shape_sql

    assert run.plan is not None
    model = run.model
    con = run.con
    con.execute(
        'CREATE OR REPLACE TEMP TABLE _st_future AS SELECT lead_id, min(epoch_us("timestamp")) AS next_ts '
        f'FROM events WHERE epoch_us("timestamp") > {int(at)} GROUP BY lead_id'
    )
    source = f"{RESULT} WHERE NOT fallback"
    stage, history, first = "CAST(NULL AS VARCHAR)", "'[]'", ""
    if split:
        source += f" AND lead_id NOT IN (SELECT lead_id FROM {PURE})"
        stage, history = stage_json(model)
        history = history.replace("{at}", str(int(at)))
        first = f" LEFT JOIN {FIRST} AS fi ON fi.lead_id = s.lead_id"
    shaped = shape_sql(model, run.version, run.plan, at, source, json=True)
    ranks = [
        f"WHEN {i} THEN {UNPRIORITISED_RANK if p.priority is None else min(p.priority, UNPRIORITISED_RANK - 1)}"
        for i, p in enumerate(model.playbooks)
    ]
    rank = f"CASE r.playbook {' '.join(ranks)} ELSE {NO_PLAYBOOK_RANK} END" if ranks else str(NO_PLAYBOOK_RANK)
    playbook = "CAST(NULL AS VARCHAR)"
    if model.playbooks:
        playbook = 'CAST(to_json(struct_insert(s.playbook, "index" := r.playbook)) AS VARCHAR)'
    dims = "".join(f", r.dim_{j} AS d{j}" for j in range(len(run.plan.dimensions)))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ROWS_TABLE} AS SELECT s.lead_id, s.model, s.model_version, "
        f"CAST({int(at)} AS BIGINT) AS evaluated_at, s.score, CAST(to_json(s.dimensions) AS VARCHAR) AS dimensions, "
        f"CAST(to_json(s.labels) AS VARCHAR) AS labels, {stage} AS stage, {history} AS stage_history, "
        f"CASE WHEN r.playbook IS NULL THEN NULL ELSE {playbook} END AS playbook, "
        f"CAST({rank} AS INTEGER) AS queue_rank, CAST(s.breakdown AS VARCHAR) AS breakdown, "
        f"CAST(least(r.next_change_at, f.next_ts) AS BIGINT) AS next_change_at{dims} "
        f"FROM ({shaped}) AS s JOIN {RESULT} AS r ON r.lead_id = s.lead_id "
        f"LEFT JOIN _st_future AS f ON f.lead_id = s.lead_id{first}"
    )


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
        from leadscore.bulk.lifecycle_parts import lead_parts

        parts = lead_parts(store, ids, PART_LEADS if part_leads is None else part_leads)
        if parts is not None:
            return _rescore_parts(store, evaluator, at, cause, parts, activation)
    run = _run(store, evaluator, at, ids, next_change=True, split=split)
    if run is None:
        return None
    try:
        if run.plan is None:
            return None
        t = time.perf_counter()
        n_py = 0
        if split:
            sorted_out = _split(store, run, evaluator, at, ids)
            if sorted_out is None:
                return None
            pure_parts, n_py = sorted_out
        else:
            fallback = _fallback_ids(run.con)
            pure_parts = [fallback[i : i + life.PURE_CHUNK] for i in range(0, len(fallback), life.PURE_CHUNK)]
        n_pure = sum(len(part) for part in pure_parts)
        _shape_rows(run, at, split)
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

        def work(conn: Connection) -> BatchRescored:
            # a retried transaction starts over: nothing of an attempt that rolled back is kept
            done = _write_split(store, conn, run, evaluator, at, cause, pure_parts, n_py, extra, seconds)
            for stmt in activation:
                conn.execute(stmt)
            return done

        done = store.transact(work)
        seconds["write"] = time.perf_counter() - t - seconds.get("pure", 0.0) - seconds.get("history", 0.0)
        done.seconds = seconds
        return done
    finally:
        run.con.close()


def _split(
    store: LeadStore, run: BatchRun, evaluator: Evaluator, at: int, ids: str | None
) -> tuple[list[list[str]], int] | None:
    """`lifecycle_split.split` of the run's leads against their stored results: (the pure scorer's
    parts, how many leads the history pass finishes); None when every lead needs the pure scorer."""
    from leadscore.bulk import lifecycle_split as life

    life.load_previous(store, run.con, ids)
    if life.split(run, evaluator, at) is None:
        return None
    n_py = int(run.con.execute(f"SELECT count(*) FROM {life.PY}").fetchall()[0][0])
    return life.pure_ids(run.con), n_py


def _write_split(
    store: LeadStore,
    conn: Connection,
    run: BatchRun,
    evaluator: Evaluator,
    at: int,
    cause: str,
    pure_parts: list[list[str]],
    n_py: int,
    extra: list[str],
    seconds: dict[str, float],
) -> BatchRescored:
    """Inside the caller's write transaction: the history pass of PY's leads (`finish`), the rows of
    `_st_rows` with the quiet leads' stage rows, then the pure scorer for `pure_parts` and the leads
    the history pass handed back (added to `extra`, which a retry of the same run reuses)."""
    import pyarrow as pa

    from leadscore.bulk import lifecycle_split as life
    from leadscore.bulk.lifecycle_history import HIST, finish
    from leadscore.bulk.write import ROWS_TABLE, TEMP, write_rows

    assert run.plan is not None
    n_pure = sum(len(part) for part in pure_parts)
    done = BatchRescored(leads=run.stats.leads, fallback_leads=n_pure, history_leads=n_py)
    p = time.perf_counter()
    raw = conn.connection.driver_connection
    if n_py:  # replays finished in Python: their history, stage rows and outbox messages
        fired, disagree = finish(store, conn, run, evaluator, at, cause)
        done.firings.extend(fired)
        if disagree:  # rescored whole by the pure scorer below instead (and on a retry too)
            run.con.register("_bl_disagree", pa.table({"lead_id": pa.array(disagree, pa.string())}))
            for table in (ROWS_TABLE, life.PY):
                run.con.execute(f"DELETE FROM {table} WHERE lead_id IN (SELECT lead_id FROM _bl_disagree)")
            run.con.unregister("_bl_disagree")
            extra.extend(disagree)
        run.con.execute(
            f"UPDATE {ROWS_TABLE} AS s SET stage_history = h.stage_history FROM {HIST} AS h WHERE h.lead_id = s.lead_id"
        )
        py_ids = run.con.execute(f"SELECT lead_id FROM {life.PY}").fetchall()
        store.load_temp(raw, f"CREATE TEMP TABLE {PY_TEMP} (lead_id TEXT PRIMARY KEY)", PY_TEMP, "lead_id", py_ids)
    seconds["history"] = seconds.get("history", 0.0) + time.perf_counter() - p
    lifecycle = evaluator.model.lifecycle is not None
    before = [life.stage_rows_sql(store, at, cause, TEMP, PY_TEMP if n_py else None)] if lifecycle else []
    done.changed = write_rows(store, conn, run.con, run.plan.dimensions, at, cause, before=before)
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


def _part(store: LeadStore, evaluator: Evaluator, at: int, ids: str) -> tuple[BatchRun, list[list[str]], int] | None:
    """The leads of `ids` exported, scored, split and their rows shaped: (the run, the pure scorer's
    parts, how many leads the history pass finishes); None (the run closed) when the pure scorer is
    needed for every lead."""
    run = _run(store, evaluator, at, ids, next_change=True, split=True)
    if run is None:
        return None
    try:
        t = time.perf_counter()
        found = None if run.plan is None else _split(store, run, evaluator, at, ids)
        if found is not None:
            _shape_rows(run, at, True)
            run.stats.seconds["shape"] = time.perf_counter() - t
            return run, found[0], found[1]
    except BaseException:
        run.con.close()
        raise
    run.con.close()
    return None


def _write_part(
    store: LeadStore,
    conn: Connection,
    evaluator: Evaluator,
    at: int,
    cause: str,
    ids: str,
    seconds: dict[str, float],
) -> BatchRescored:
    """One part of `_rescore_parts`, in the caller's transaction: nothing of it is referenced on return."""
    prepared = _part(store, evaluator, at, ids)
    if prepared is None:
        raise _PureNeeded
    run, pure_parts, n_py = prepared
    try:
        for name, value in run.stats.seconds.items():
            seconds[name] = seconds.get(name, 0.0) + value
        t = time.perf_counter()
        got = _write_split(store, conn, run, evaluator, at, cause, pure_parts, n_py, [], seconds)
        seconds["write"] = seconds.get("write", 0.0) + time.perf_counter() - t
        return got
    finally:
        run.con.close()


class _PureNeeded(Exception):
    """A part needs the pure scorer for every lead: the whole rescore rolls back to the pure path."""


def _rescore_parts(
    store: LeadStore,
    evaluator: Evaluator,
    at: int,
    cause: str,
    parts: list[str],
    activation: Sequence[sa.Executable],
) -> BatchRescored | None:
    """`rescore_store` of a model with a lifecycle or triggers over the leads of each query of `parts`
    (disjoint lead id ranges: a lead is never split) one after the other, inside ONE write transaction
    that ends with `activation`: all or nothing, as the single run. Each part is exported, scored,
    split, its history finished and its rows written before the next one is read, and its DuckDB
    connection closed, so memory is bounded by the part. Reads go through other connections (the
    export's readers): they see the store as it was committed before this transaction, so a part's
    stored results and stages are the ones its writes replace. None (nothing written) when some part
    needs the pure scorer for every lead, as the single run decides."""
    seconds: dict[str, float] = {}

    def work(conn: Connection) -> BatchRescored:
        seconds.clear()  # a retry starts over, every part included
        done = BatchRescored()
        for ids in parts:
            got = _write_part(store, conn, evaluator, at, cause, ids, seconds)
            # the part's Arrow tables and DuckDB connection are gone once its function returned; a
            # cycle left (the run's class) must not keep them while the next part is exported
            gc.collect()
            done.leads += got.leads
            done.changed += got.changed
            done.fallback_leads += got.fallback_leads
            done.history_leads += got.history_leads
            done.firings.extend(got.firings)
        for stmt in activation:
            conn.execute(stmt)
        return done

    try:
        done = store.transact(work)
    except _PureNeeded:
        return None
    seconds["write"] = seconds.get("write", 0.0) - seconds.get("pure", 0.0) - seconds.get("history", 0.0)
    seconds["parts"] = float(len(parts))
    done.seconds = seconds
    return done
