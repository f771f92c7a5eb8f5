"""A part of a lifecycle rescore (or a whole run) prepared for its write: exported, scored, split
against the stored results, its `results` rows shaped and its history pass staged (`Prepared`).

All of it is computation over the part's events and the store as it was committed, through
connections of its own: nothing of the write transaction. So it runs in the process that writes
(`writeback`) or in the one that prepares the next part meanwhile (`lifecycle_ahead`), which both
import it from here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from leadscore.bulk.rescore import _run
from leadscore.store.codec import NO_PLAYBOOK_RANK, UNPRIORITISED_RANK

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.bulk.history_staging import Staged
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

__all__ = ["Prepared", "PureNeeded", "prepare_part", "shape_rows", "split_leads", "staged_history"]


@dataclass
class Prepared:
    """A part (or a whole run) scored, split, its rows shaped and its history pass staged: what its
    history pass and write read (`writeback._write_split`), in the DuckDB connection `con`."""

    con: duckdb.DuckDBPyConnection
    dims: list[str]  # the plan's dimensions (the rows' d0.. columns)
    leads: int  # leads scored
    pure_parts: list[list[str]]  # the pure scorer's leads, in parts
    n_py: int  # leads of the history pass
    staged: Staged | None  # None without such leads
    seconds: dict[str, float] = field(default_factory=dict)


class PureNeeded(Exception):
    """A part needs the pure scorer for every lead: the whole rescore rolls back to the pure path."""


def shape_rows(run: BatchRun, at: int, split: bool = False) -> None:
    """DuckDB table `_st_rows`: one `results` row per lead the query decided (JSON as text), with the
    next stored event after `at` folded into `next_change_at` as `Evaluator.next_change` does. With
    `split`, only the leads `store_lifecycle.split` left out of PURE, with their stage and replay."""
    from leadscore.batch.duckdb.run import RESULT
    from leadscore.bulk.lifecycle_split import FIRST, PURE, TIMES, stage_json
    from leadscore.bulk.write import ROWS_TABLE
    from leadscore.sql.result_shape import playbook_structs, shape_sql

    assert run.plan is not None
    model = run.model
    con = run.con
    future = "_st_future"
    if split:  # (`lifecycle_split.split` made the run's TIMES: the same next event, no pass of its own)
        future = TIMES
    else:
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
    shaped = shape_sql(model, run.version, run.plan, at, source, json=True, text=True)
    ranks = [
        f"WHEN {i} THEN {UNPRIORITISED_RANK if p.priority is None else min(p.priority, UNPRIORITISED_RANK - 1)}"
        for i, p in enumerate(model.playbooks)
    ]
    rank = f"CASE r.playbook {' '.join(ranks)} ELSE {NO_PLAYBOOK_RANK} END" if ranks else str(NO_PLAYBOOK_RANK)
    playbook = "CAST(NULL AS VARCHAR)"
    if model.playbooks:
        # each playbook's text made from constants, which the planner folds once a part: the same
        # `to_json` of the same struct, not one per lead (0.08 of 0.75 CPU s of 100,000 leads' rows)
        texts = [
            f'WHEN {i} THEN CAST(to_json(struct_insert({pb}, "index" := {i})) AS VARCHAR)'
            for i, pb in enumerate(playbook_structs(model))
        ]
        playbook = f"(CASE r.playbook {' '.join(texts)} END)"
    dims = "".join(f", r.dim_{j} AS d{j}" for j in range(len(run.plan.dimensions)))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {ROWS_TABLE} AS SELECT s.lead_id, s.model, s.model_version, "
        f"CAST({int(at)} AS BIGINT) AS evaluated_at, s.score, CAST(to_json(s.dimensions) AS VARCHAR) AS dimensions, "
        f"CAST(to_json(s.labels) AS VARCHAR) AS labels, {stage} AS stage, {history} AS stage_history, "
        f"CASE WHEN r.playbook IS NULL THEN NULL ELSE {playbook} END AS playbook, "
        f"CAST({rank} AS INTEGER) AS queue_rank, s.breakdown, "
        f"CAST(least(r.next_change_at, f.next_ts) AS BIGINT) AS next_change_at{dims} "
        f"FROM ({shaped}) AS s JOIN {RESULT} AS r ON r.lead_id = s.lead_id "
        f"LEFT JOIN {future} AS f ON f.lead_id = s.lead_id{first}"
    )


def split_leads(
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


def staged_history(run: BatchRun, evaluator: Evaluator, at: int, n_py: int) -> Staged | None:
    """`history_staging.stage` of the run's history-pass leads (None without any)."""
    from leadscore.bulk.history_staging import stage

    if not n_py:
        return None
    t = time.perf_counter()
    staged = stage(run, evaluator, at)
    run.stats.seconds["stage"] = run.stats.seconds.get("stage", 0.0) + time.perf_counter() - t
    return staged


def prepare_part(
    store: LeadStore, evaluator: Evaluator, at: int, ids: str, events: pa.Table | None, threads: int | None = None
) -> Prepared | None:
    """The leads of `ids` exported (their `events` already read, when given), scored, split, their
    rows shaped and their history pass staged; None (the run closed) when the pure scorer is needed
    for every lead. Reads the store through connections of its own, writes nothing: it runs in this
    process or in the one that prepares the next part (`lifecycle_ahead`). `threads`: its DuckDB
    connection's (None: DuckDB's default, one per core)."""
    run = _run(store, evaluator, at, ids, next_change=True, split=True, events=events, threads=threads)
    if run is None:
        return None
    try:
        t = time.perf_counter()
        found = None if run.plan is None else split_leads(store, run, evaluator, at, ids)
        if found is not None:
            assert run.plan is not None
            shape_rows(run, at, True)
            run.stats.seconds["shape"] = time.perf_counter() - t
            staged = staged_history(run, evaluator, at, found[1])
            dims = list(run.plan.dimensions)
            return Prepared(run.con, dims, run.stats.leads, found[0], found[1], staged, dict(run.stats.seconds))
    except BaseException:
        run.con.close()
        raise
    run.con.close()
    return None
