"""The batch engine over a lead store: the store exported into Arrow (`store_export`) and scored in
DuckDB; `model apply` / `refresh` write its rows back in bulk (`bulk.writeback`).

`model plan` (`score_store`) needs only a model without triggers and predictive dimensions. Event
ids are the store's event keys, unique by the log's constraint, so no duplicate pass runs; input
order is the log's sequence, as `load_timelines` orders ties.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from leadscore.bulk.export import Unsupported, export_store
from leadscore.domain.result import Result
from leadscore.model.spec import ScoringModel
from leadscore.store.pipeline import Rescored

if TYPE_CHECKING:
    import pyarrow as pa

    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

__all__ = ["BatchRescored", "Unsupported", "eligible", "score_store", "writable"]


@dataclass
class BatchRescored(Rescored):
    """A rescore done by the batch engine: which engine, and how long each phase took. A lifecycle
    rescore in parts (`writeback._rescore_parts`) returns its firings without their payloads (each
    written to the outbox in the rescore's transaction)."""

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
    model: ScoringModel,
    leads: object,
    events: object,
    at: int,
    con: object,
    next_change: bool,
    split: bool,
    breakdown: bool = True,
) -> BatchRun:
    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.domain.timeutil import from_micros

    class _StoreRun(BatchRun):
        keep_aggregates = True  # a part's leads: the replay's pass reads the scoring query's aggregates

        def _fallback(self) -> None:
            """Nothing: the store's pure path rescores these leads itself, writing their history."""

        def _replay(self) -> None:
            """The replay in SQL for every lead that may have moved, keeping each automatic condition
            at each event time (`store_history.CONDS`): the history is finished from them in Python.
            (The engine's own `_replay`, but for which leads and that the conditions stay.)"""
            from leadscore.batch.duckdb.run import RESULT
            from leadscore.bulk.frames import conditions_table
            from leadscore.bulk.history_staging import CONDS
            from leadscore.bulk.lifecycle_split import MOVED, init_sql, moved_table
            from leadscore.bulk.replay_fold import FOLD_TABLE, SQL_LEADS, STAGED, fold_table
            from leadscore.sql.query import build_query

            con = self.con
            moved_table(con, self.model, at)  # split reads it too
            con.execute(
                f"UPDATE {RESULT} SET needs_replay = TRUE WHERE NOT fallback AND lead_id IN ("
                f"SELECT x.lead_id FROM {RESULT} AS x JOIN leads AS l ON l.id = x.lead_id "
                f"WHERE x.stage IS DISTINCT FROM {init_sql(self, 'l')} OR x.lead_id IN (SELECT lead_id FROM {MOVED}))"
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
                idle=True,  # without the rows that cannot move a stage (`lifecycle_walk.drop_idle`)
            )
            # the fold from the moving events' lists the scoring query kept and the conditions' rows
            # (`replay_fold`): the SQL pass then reads no event, and lists them only for the leads left
            folded = fold_table(self, "_ls_rp_ids", CONDS)
            passes = [("_ls_rp_ids", None)] if folded is None else [(FOLD_TABLE, FOLD_TABLE), (SQL_LEADS, None)]
            for only, fold in passes:
                if fold is None and folded is not None and not folded.left:
                    continue
                plan = build_query(
                    self.model,
                    self.schema,
                    self.at,
                    dedupe=False,
                    event_leads=self.event_leads,
                    only=only,
                    replay=CONDS,
                    folded=fold,
                    next_change=self.next_change,
                    lookups=self.lookups,
                    null_ids=self.null_ids,
                    # the scoring query's form of counts, so that its aggregates are the ones read again
                    clustered=self.clustered,
                    aggregated=self.aggregated,
                )
                if fold is None:
                    con.execute(f"DELETE FROM {RESULT} WHERE lead_id IN (SELECT lead_id FROM {only})")
                    con.execute(f"INSERT INTO {RESULT} BY NAME {plan.sql}")
                    continue
                # the pass reads the scoring query's own aggregates: only what reads the stage differs
                # from the scoring query's row (`STAGED`); deleting and inserting whole rows cost more
                # than the pass (0.19 of a part of 100,000 leads' 0.65 CPU s)
                cols = ", ".join(STAGED)
                sets = ", ".join(f"{x} = s.{x}" for x in STAGED)
                con.execute(
                    f"UPDATE {RESULT} AS r SET {sets} FROM (SELECT lead_id, {cols} FROM ({plan.sql})) AS s "
                    "WHERE r.lead_id = s.lead_id"
                )

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
        breakdown=breakdown,
    )


def _before_scores(run: BatchRun, evaluator: Evaluator, leads: object, events: object, threads: int | None) -> bool:
    """Per score_changed window, the batch engine's total at T - within (`store_lifecycle.before_table`),
    in the connection of `run` (the run at T, whose tables stay); False when some lead needs the pure
    scorer for it (then every lead takes the pure path).

    The scores-only model's query at T - within over the run's own sources, one statement whose total
    alone is kept: a batch run of its own (its sources prepared again, its result table of every
    column, its counts) cost a part of 10,000 leads x 50 events about 0.02 CPU s more. A query that
    needs look-ups takes such a run, in a connection of its own (the look-ups' tables are the run's)."""
    from leadscore.batch.duckdb.run import RESULT, connect
    from leadscore.bulk.lifecycle_split import before_table, score_windows, scores_only
    from leadscore.sql.predicate_sql import NotExpressible
    from leadscore.sql.query import build_query

    model, con = scores_only(evaluator.model), run.con
    for k, window in enumerate(score_windows(evaluator)):
        table = before_table(k)
        try:
            # the query that run would make: no dedupe, no look-up, no breakdown, no horizon
            plan = build_query(
                model,
                run.schema,
                run.at - window,
                dedupe=False,
                null_ids=run.null_ids,
                clustered=run.clustered,
                breakdown=False,
            )
        except NotExpressible:
            plan = None
        if plan is not None:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT lead_id, score FROM ({plan.sql})")
            continue
        own = connect(threads)
        try:
            before = _batch_run(model, leads, events, run.at - window, own, False, False, False)
            if before.plan is None or before.stats.fallback_leads:
                return False
            con.register("_bl_before_part", own.sql(f"SELECT lead_id, score FROM {RESULT}").to_arrow_table())
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM _bl_before_part")
            con.unregister("_bl_before_part")
        finally:
            own.close()
    return True


def _run(
    store: LeadStore,
    evaluator: Evaluator,
    at: int,
    ids: str | None,
    next_change: bool,
    split: bool = False,
    events: pa.Table | None = None,
    threads: int | None = None,
) -> BatchRun | None:
    """The batch engine over the store's export. With `split` (model apply / refresh of a model with a
    lifecycle or triggers): no fallback scoring (the pure path rescores those leads), and the scores at
    T - within of the score_changed triggers first. `events`: the leads' events already read
    (`export_store`'s argument), at `export_at(evaluator, at)`. `threads`: DuckDB's (None: its default,
    one per core)."""
    from leadscore.batch.duckdb.run import connect
    from leadscore.bulk.lifecycle_split import score_windows

    con = connect(threads)
    # no statement of a store's run reads rows in the order a table was filled (each orders what it
    # needs: the row order of its parallel scans varies from run to run already): without keeping
    # it, DuckDB's materialisations cost less (about 3 % of a lifecycle part's preparing CPU)
    con.execute("SET preserve_insertion_order = false")
    t = time.perf_counter()
    windows = score_windows(evaluator) if split else []
    try:
        lead_table, ev_table = export_store(
            store, evaluator.model, export_at(evaluator, at, split), con, ids=ids, events=events
        )
    except Unsupported:
        con.close()
        return None
    exported = time.perf_counter() - t
    run = _batch_run(evaluator.model, lead_table, ev_table, at, con, next_change, split)
    run.stats.seconds["export"] = exported
    if windows and run.plan is not None:  # (without a plan every lead takes the pure path)
        t = time.perf_counter()
        if not _before_scores(run, evaluator, lead_table, ev_table, threads):
            con.close()
            return None
        run.stats.seconds["before"] = time.perf_counter() - t
    return run


def export_at(evaluator: Evaluator, at: int, split: bool = True) -> int:
    """The time the export reads the events of (`export_store`'s `at`): score_changed triggers compare
    with the score at T - within, so what that time reads is exported too."""
    from leadscore.bulk.lifecycle_split import score_windows

    return at - max(score_windows(evaluator) if split else [], default=0)


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
