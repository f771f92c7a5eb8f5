"""The batch engine over a lead store: the store exported into Arrow (`store_export`), scored in
DuckDB, and, for `model apply` / `refresh`, written back in bulk (`store_write`).

`model plan` (`score_store`) needs only a model without triggers and predictive dimensions.
Writing (`rescore_store`) also needs a model without a lifecycle (the stored stage history comes
from the pure scorer's replay) and no triggers to fire. Event ids are the store's event keys,
unique by the log's constraint, so no duplicate pass runs; input order is the log's sequence, as
`load_timelines` orders ties.
"""

from __future__ import annotations

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

    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

__all__ = ["BatchRescored", "Unsupported", "eligible", "rescore_store", "score_store", "writable"]


@dataclass
class BatchRescored(Rescored):
    """A rescore done by the batch engine: which engine, and how long each phase took."""

    engine: str = "duckdb"
    fallback_leads: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def eligible(model: ScoringModel, evaluator: Evaluator) -> bool:
    """The batch engine can score it (a lifecycle is replayed in SQL or by its fallback), and is installed
    (the batch extra; without it the store takes the pure path)."""
    from leadscore._extras import available

    return not model.triggers and not evaluator.scorer.predictive and available("batch")


def writable(evaluator: Evaluator) -> bool:
    """The batch engine's results can be stored as they are: no lifecycle, no triggers to fire; and the
    batch engine is installed."""
    from leadscore._extras import available

    model = evaluator.model
    simple = model.lifecycle is None and not evaluator.fire_triggers and not evaluator.scorer.predictive
    return simple and available("batch")


def _run(store: LeadStore, evaluator: Evaluator, at: int, ids: str | None, next_change: bool) -> BatchRun | None:
    from leadscore.batch.duckdb.run import BatchRun, connect
    from leadscore.domain.timeutil import from_micros

    con = connect()
    t = time.perf_counter()
    try:
        lead_table, ev_table = export_store(store, evaluator.model, at, con, ids=ids)
    except Unsupported:
        con.close()
        return None
    exported = time.perf_counter() - t
    run = BatchRun(
        evaluator.model,
        lead_table,
        ev_table,
        from_micros(at),
        con=con,
        dedupe="never",
        event_leads=False,
        next_change=next_change,
        check_numbers=False,
    )
    run.stats.seconds["export"] = exported
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


def _shape_rows(run: BatchRun, at: int) -> None:
    """DuckDB table `_st_rows`: one `results` row per lead the query decided (JSON as text), with the
    next stored event after `at` folded into `next_change_at` as `Evaluator.next_change` does."""
    from leadscore.batch.duckdb.run import RESULT
    from leadscore.bulk.write import ROWS_TABLE
    from leadscore.sql.result_shape import shape_sql

    assert run.plan is not None
    model = run.model
    con = run.con
    con.execute(
        'CREATE OR REPLACE TEMP TABLE _st_future AS SELECT lead_id, min(epoch_us("timestamp")) AS next_ts '
        f'FROM events WHERE epoch_us("timestamp") > {int(at)} GROUP BY lead_id'
    )
    shaped = shape_sql(model, run.version, run.plan, at, f"{RESULT} WHERE NOT fallback", json=True)
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
        "CAST(to_json(s.labels) AS VARCHAR) AS labels, CAST(NULL AS VARCHAR) AS stage, '[]' AS stage_history, "
        f"CASE WHEN r.playbook IS NULL THEN NULL ELSE {playbook} END AS playbook, "
        f"CAST({rank} AS INTEGER) AS queue_rank, CAST(s.breakdown AS VARCHAR) AS breakdown, "
        f"CAST(least(r.next_change_at, f.next_ts) AS BIGINT) AS next_change_at{dims} "
        f"FROM ({shaped}) AS s JOIN {RESULT} AS r ON r.lead_id = s.lead_id "
        "LEFT JOIN _st_future AS f ON f.lead_id = s.lead_id"
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
) -> BatchRescored | None:
    """Rescore the stored leads at `at` through DuckDB and store results and score history in one
    transaction, exactly as `Evaluator.rescore` would store them (cause `cause`).

    `ids`: an SQL query over the store giving one column of lead ids to rescore (default: every
    lead). None when the model or the data needs the pure scorer (nothing was written then).
    On a SQLite file, at least `adbc_min_rows` results (default `store_write.ADBC_MIN_ROWS`) are
    written through ADBC, in a transaction of the writer's own. `activation` (model apply's statements
    that make the model active) runs in the same transaction as the writes, whichever writes them.
    """
    from leadscore.bulk.export import sqlite_path
    from leadscore.bulk.write import ADBC_MIN_ROWS, ROWS_TABLE, write_rows, write_sqlite

    if not writable(evaluator):
        return None
    run = _run(store, evaluator, at, ids, next_change=True)
    if run is None:
        return None
    try:
        if run.plan is None:
            return None
        t = time.perf_counter()
        _shape_rows(run, at)
        fallback = _fallback_ids(run.con)
        seconds = dict(run.stats.seconds)
        seconds["shape"] = time.perf_counter() - t
        dims = run.plan.dimensions
        t = time.perf_counter()
        path = sqlite_path(store)
        minimum = ADBC_MIN_ROWS if adbc_min_rows is None else adbc_min_rows
        if path is not None and not fallback:
            rows = run.con.execute(f"SELECT count(*) FROM {ROWS_TABLE}").fetchall()[0][0]
            if rows >= minimum:
                changed = write_sqlite(path, run.con, dims, at, cause, activation=_sqlite_text(store, activation))
                seconds["write"] = time.perf_counter() - t
                return BatchRescored(leads=run.stats.leads, changed=changed, seconds=seconds)

        def work(conn: object) -> int:
            changed = write_rows(store, conn, run.con, dims, at, cause)  # type: ignore[arg-type]
            if fallback:  # leads whose stage the query could not decide: the pure scorer, same transaction
                changed += evaluator.rescore(store, conn, fallback, at, cause).changed  # type: ignore[arg-type]
            for stmt in activation:
                conn.execute(stmt)  # type: ignore[attr-defined]
            return changed

        changed = store.transact(work)
        seconds["write"] = time.perf_counter() - t
        return BatchRescored(leads=run.stats.leads, changed=changed, fallback_leads=len(fallback), seconds=seconds)
    finally:
        run.con.close()
