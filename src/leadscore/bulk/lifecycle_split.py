"""`model apply` / `refresh` in bulk for models with a lifecycle or triggers: which leads the batch
engine's rows can be stored for as they are, and which the pure scorer must rescore.

The pure path stores, besides the result, the lifecycle replay (the whole `stage_history` in the
result, and in the `stage_history` table the moves since the last evaluation), and the trigger
firings against the previous result. The batch query gives the final stage, not the replay. So the
leads go three ways (`split`):

- *bulk*: quiet leads. The batch engine decided their stage, it is the initial one (the `stage`
  attribute, else the model's), and no event of theirs has a transition of its own (nor is a
  `stage_set`); automatic transitions form no cycle, so such a lead never moved and its replay is
  the one `initial` entry at its first event (or at T), written in SQL with its stage-history row.
  Their stored stage was none or the same, and no trigger fires for them: no stage moved, the
  label a `label_changed` trigger watches is compared in SQL with the stored one, and the score
  with the batch engine's score at T - within for `score_changed`.
- *py*: the leads the batch engine replayed in SQL (their stage needed the conditions at every
  event time), and quiet leads for which a trigger may fire or whose stored stage differs: their
  rows come from the query, their history, stage-history rows and outbox messages from
  `store_history.finish`, which replays with the conditions the SQL replay computed.
- *pure*: the rest (bad data; a model whose stage the
  query decides without replaying but whose leads moved): `Evaluator.rescore`, in parts, in the
  same transaction; exact by definition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadscore.engine.lifecycle_replay import STAGE_SET
from leadscore.model.spec import ScoringModel
from leadscore.sql import literals as q

if TYPE_CHECKING:
    import duckdb

    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

PURE = "_bl_pure"  # DuckDB: the leads the pure scorer rescores
FIRST = "_bl_first"  # DuckDB: each lead's first event at or before T (the replay's `initial` time)
PREV = "_bl_prev"  # DuckDB: the stored results' model, stage and labels
PY = "_bl_py"  # DuckDB: the leads whose history and firings store_history.finish writes
MOVED = "_bl_rel"  # DuckDB: the leads of `moved_sql` (made by the run's replay, else by `split`)
TIMES = "_bl_times"  # DuckDB: per lead of the events, its first event by T, its next after T, whether it moved
PURE_CHUNK = 2000


def needs_split(evaluator: Evaluator) -> bool:
    """The model's stored rows need more than the batch query gives: a lifecycle, or triggers to fire."""
    return evaluator.model.lifecycle is not None or evaluator.fire_triggers


def score_windows(evaluator: Evaluator) -> list[int]:
    """The distinct `within` (micros) of the score_changed triggers that fire."""
    if not evaluator.fire_triggers:
        return []
    found = {t.within.micros for t in evaluator.model.triggers if t.on == "score_changed" and t.within is not None}
    return sorted(found)


def scores_only(model: ScoringModel) -> ScoringModel:
    """The model's rules and dimensions alone: the total at another time, for score_changed triggers."""
    return model.model_copy(update={"lifecycle": None, "triggers": [], "labels": {}, "playbooks": []})


def before_table(k: int) -> str:
    return f"_bl_before{k}"


def load_previous(store: LeadStore, con: duckdb.DuckDBPyConnection, ids: str | None) -> None:
    """DuckDB table PREV: (lead_id, model, model_version, stage, labels as JSON text) of the stored
    results (of the leads `ids` selects), read as Arrow the store's fastest way (`export.query_table`:
    ADBC readers on a SQLite file, COPY on PostgreSQL); row by row through the driver it cost 0.7 CPU s
    at 100,000 leads, most of it building Python rows."""
    import pyarrow as pa

    from leadscore.bulk.export import query_table

    where = f" WHERE lead_id IN ({ids})" if ids is not None else ""
    sql = f"SELECT lead_id, model, model_version, stage, CAST(labels AS TEXT) AS labels FROM results{where}"
    schema = pa.schema([(n, pa.string()) for n in ("lead_id", "model", "model_version", "stage", "labels")])
    con.register("_bl_prev_part", query_table(store, sql, "results", "rowid", schema))
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {PREV} (lead_id VARCHAR, model VARCHAR, model_version VARCHAR, "
            "stage VARCHAR, labels VARCHAR)"
        )
        con.execute(f"INSERT INTO {PREV} SELECT * FROM _bl_prev_part")
    finally:
        con.unregister("_bl_prev_part")


def _label_path(name: str) -> str | None:
    if '"' in name or "\\" in name:
        return None
    return q.text(f'$."{name}"')


def moved_sql(model: ScoringModel, at: int) -> str:
    """DuckDB: the ids of the leads with an event by T that has a transition of its own (or is a
    `stage_set`): their replay can move in ways the final stage does not show."""
    when = f'epoch_us("timestamp") <= {int(at)}'
    return f"SELECT DISTINCT lead_id FROM events WHERE type IN {_moving_types(model)} AND {when}"


def _moving_types(model: ScoringModel) -> str:
    lc = model.lifecycle
    assert lc is not None
    return q.text_list(sorted({STAGE_SET, *(t for tr in lc.transitions for t in (tr.on or ()))}))


def lead_times(con: duckdb.DuckDBPyConnection, model: ScoringModel, at: int) -> None:
    """TIMES, once per run's connection: per lead of the events (NULL included, as a GROUP BY keeps it),
    its first event time at or before T (`first_ts`: FIRST's), its first after T (`next_ts`: the
    shaped row's next change) and whether it is a lead of `moved_sql` (`moved`; FALSE without a
    lifecycle). One pass over the part's events where FIRST, MOVED and `shape_rows` made three (0.37
    against 0.28 CPU s a part of 100,000 leads x 50 events: most of it the scan and the GROUP BY)."""
    moved = "FALSE"
    if model.lifecycle is not None:
        moved = f"coalesce(bool_or(_t <= {int(at)} AND type IN {_moving_types(model)}), FALSE)"
    con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {TIMES} AS SELECT lead_id, min(CASE WHEN _t <= {int(at)} THEN _t END) "
        f"AS first_ts, min(CASE WHEN _t > {int(at)} THEN _t END) AS next_ts, {moved} AS moved "
        'FROM (SELECT lead_id, type, epoch_us("timestamp") AS _t FROM events) GROUP BY lead_id'
    )


def moved_table(con: duckdb.DuckDBPyConnection, model: ScoringModel, at: int) -> None:
    """MOVED (the leads of `moved_sql`) from TIMES, each made when missing (the run's replay makes them,
    else `split`)."""
    lead_times(con, model, at)
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {MOVED} AS SELECT lead_id FROM {TIMES} WHERE moved")


def init_sql(run: BatchRun, alias: str = "l") -> str:
    """DuckDB over the leads table (as `alias`): the lead's initial stage (its `stage` attribute, else the
    model's). A `stage` attribute that is no stage name is bad data: such leads are fallback already."""
    lc = run.model.lifecycle
    assert lc is not None
    slot = next((s.column for s in run.schema.leads.of("stage") if s.kind == "str"), None)
    return (
        q.text(lc.initial_stage) if slot is None else f"coalesce({alias}.{q.ident(slot)}, {q.text(lc.initial_stage)})"
    )


def split(run: BatchRun, evaluator: Evaluator, at: int) -> int | None:
    """Sort the leads: PURE (the pure scorer rescores them), PY (their rows come from the
    query, their history and firings from `store_history.finish`) and the rest (written as the query
    gives them: quiet, nothing fires). Creates FIRST too. None when the model needs the pure scorer
    for every lead. Needs PREV and, per score window, its `before_table` (lead_id, score)."""
    from leadscore.batch.duckdb.run import RESULT
    from leadscore.sql.predicate_sql import TypedExpr, predicate_sql

    model, con = run.model, run.con
    assert run.plan is not None
    lead_times(con, model, at)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {FIRST} AS SELECT lead_id, first_ts FROM {TIMES} WHERE first_ts IS NOT NULL"
    )
    replayed = "FALSE"
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_ls_rp_ids'").fetchall()[0][0]:
        replayed = "r.lead_id IN (SELECT lead_id FROM _ls_rp_ids)"
    # the query's row may give a stage the lead reached by moves: those need their replay
    moved = "FALSE"
    also: list[str] = []  # quiet leads whose rows need the work of `store_history` (history or triggers)
    lc = model.lifecycle
    if lc is not None:
        moved_table(con, model, at)
        moved = f"(coalesce(r.stage <> {init_sql(run)}, TRUE) OR r.lead_id IN (SELECT lead_id FROM {MOVED}))"
        also.append("coalesce(p.stage <> r.stage, FALSE)")  # a reconciliation row (and trigger)
    nulled = (
        f"(p.lead_id IS NULL OR (p.model_version <> {q.text(evaluator.version)} AND p.model <> {q.text(model.name)}))"
    )
    fire = evaluator.fire_triggers
    if fire and any(t.on == "stage_changed" for t in model.triggers) and lc is None:
        return None  # not a valid model; the pure scorer says what it says
    for t in model.triggers if fire else []:
        if t.on != "label_changed" or t.set is None:
            continue
        path = _label_path(t.set)
        if path is None or t.set not in model.labels:
            return None
        i = list(model.labels).index(t.set)
        old = f"(CASE WHEN {nulled} THEN NULL ELSE json_extract_string(p.labels, {path}) END)"
        new = f"r.label_{i}"
        test = f"{new} IS DISTINCT FROM {old}"
        if t.to is not None:
            test += f" AND coalesce({new} = {q.text(t.to)}, FALSE)"
        also.append(f"({test})")
    kind = (
        f"CASE WHEN coalesce(r.fallback, TRUE) THEN 'pure' WHEN {replayed} THEN 'py' WHEN {moved} THEN 'pure' "
        f"WHEN {q.any_of(also)} THEN 'py' ELSE 'bulk' END"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _bl_kind AS SELECT r.lead_id, {kind} AS k FROM {RESULT} AS r "
        f"LEFT JOIN leads AS l ON l.id = r.lead_id LEFT JOIN {PREV} AS p ON p.lead_id = r.lead_id"
    )
    for k, window in enumerate(score_windows(evaluator)):
        # the quiet leads whose score moved past a score_changed trigger's `by` since T - within: tested
        # in SQL with the pure scorer's semantics (`predicate_sql`) on the same difference of two DOUBLEs
        # (fetched and tested row by row in Python, it cost 0.06 CPU s per 10,000 leads)
        change: list[TypedExpr] = [("(r.score - b.score)", "num")]
        triggers = [t for t in model.triggers if t.on == "score_changed" and t.within and t.within.micros == window]
        jumped = q.any_of([predicate_sql(t.by, change) for t in triggers if t.by is not None])
        if jumped == "FALSE":
            continue
        con.execute(
            f"UPDATE _bl_kind SET k = 'py' WHERE k = 'bulk' AND lead_id IN (SELECT r.lead_id FROM {RESULT} AS r "
            f"JOIN {before_table(k)} AS b ON b.lead_id = r.lead_id WHERE {jumped})"
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PURE} AS SELECT lead_id FROM _bl_kind WHERE k = 'pure'")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PY} AS SELECT lead_id FROM _bl_kind WHERE k = 'py'")
    return int(con.execute(f"SELECT count(*) FROM {PURE}").fetchall()[0][0])


def pure_ids(con: duckdb.DuckDBPyConnection, size: int = PURE_CHUNK) -> list[list[str]]:
    """The leads of PURE in id order, in parts of `size` (the ids only: the pure scorer loads one part
    at a time, so memory stays bounded; a retried transaction goes over them again)."""
    ids = [str(r[0]) for r in con.execute(f"SELECT lead_id FROM {PURE} ORDER BY lead_id").fetchall()]
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def stage_json(model: ScoringModel) -> tuple[str, str]:
    """(stage, stage_history) of a quiet lead's results row as DuckDB SQL over `s` (the shaped row) and
    FIRST as `fi`: the one `initial` entry, as `codec.result_row` writes it."""
    if model.lifecycle is None:
        return "CAST(NULL AS VARCHAR)", "'[]'"
    head = "'[{\"stage\": ' || CAST(to_json(s.stage) AS VARCHAR) || ', \"at\": ' || "
    tail = '|| \', "from": null, "cause": "initial", "event_id": null}]\''
    return "s.stage", f"({head}CAST(coalesce(fi.first_ts, {{at}}) AS VARCHAR) {tail})"


def stage_rows_sql(
    store: LeadStore | type[LeadStore], at: int, cause: str, temp: str, exclude: str | None = None
) -> str:
    """The stage-history row of each quiet lead written in bulk (before the upsert: it reads the stored
    stage): a first evaluation records its `initial` entry; a stored result without a stage records
    the move into the stage with the evaluation's cause (`results_repo._stage_moves`)."""
    from leadscore.store.backends import PostgresStore

    if isinstance(store, PostgresStore) or store is PostgresStore:
        first = "CAST((CAST(n.stage_history AS JSON) -> 0 ->> 'at') AS BIGINT)"
    else:
        first = "CAST(json_extract(n.stage_history, '$[0].at') AS INTEGER)"
    return (
        "INSERT INTO stage_history (lead_id, at, from_stage, to_stage, cause, event_key, model_version) "
        f"SELECT n.lead_id, {first}, r.stage, n.stage, "
        f"(CASE WHEN r.lead_id IS NULL THEN 'initial' ELSE {q.text(cause)} END), NULL, n.model_version "
        f"FROM {temp} AS n LEFT JOIN results AS r ON r.lead_id = n.lead_id "
        f"WHERE n.stage IS NOT NULL AND (r.lead_id IS NULL OR (r.evaluated_at <= {int(at)} AND r.stage IS NULL)) "
        + (f"AND n.lead_id NOT IN (SELECT lead_id FROM {exclude}) " if exclude else "")
        + "ORDER BY n.lead_id"
    )
