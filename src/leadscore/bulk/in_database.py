"""Re-scoring a PostgreSQL store inside the database: the batch scoring query runs over typed views
of the store's own tables, and one statement writes results and score history from its rows
(INSERT ... SELECT, ON CONFLICT), so no lead, event or result travels through Python.

Used by `model apply` and `refresh` when the model needs nothing the query does not produce: no
lifecycle (a stored stage history is the pure scorer's replay), no predictive dimensions, and no
triggers to fire. Every row equals what `Evaluator.rescore` would write. The aggregates' float sums
(a rule's decayed points, a condition's amounts) are exact sums (`in_database_sums`): `math.fsum`'s
value, as the pure scorer rounds them, whatever order the plan reads the rows in, so a new plan
(statistics refreshed by ANALYZE or autovacuum between two applies) gives the same bytes. A lead's
dimensions and total are exact sums of its rules' points and of its dimensions too (`row_sum_sql`),
+0.0 where nothing but zeros is added: the pure scorer's doubles, bit for bit (for terms of at least
2 ** -52 in a row of up to 256; see `in_database_sums`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from leadscore.bulk import in_database_rows as pg_rows
from leadscore.bulk.in_database_sql import postgres_sql
from leadscore.bulk.in_database_views import (
    EVENTS_VIEW,
    LEADS_VIEW,
    Part,
    events_view,
    leads_view,
    model_names,
    source_schema,
)
from leadscore.sql.predicate_sql import NotExpressible
from leadscore.sql.query import QueryPlan, build_query
from leadscore.sql.relevance import horizons, relevant_sql

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator, Rescored

DUE = "_ls_due"
# below this many leads one statement costs about what the parts' connections, snapshot and stages do
PARTS_MIN_LEADS = 50_000


@dataclass(frozen=True)
class Settings:
    """Planner settings for the one big statement (SET LOCAL: they end with the transaction).

    `parallel_workers` None keeps the server's setting. `deterministic` runs models with float sums
    serially: their exact sums no longer depend on the order (`in_database_sums`), but parallel
    aggregation of this query was never measured to pay."""

    work_mem: str = "256MB"
    parallel_workers: int | None = None
    deterministic: bool = True
    jit: bool | None = False  # compiling the query's hundreds of expressions costs more than it saves
    # a model apply over at least `parts_min_leads` leads (the planner's estimate) is scored in `parts`
    # parts on `part_workers` connections at once (`in_database_parts`); refresh's due leads are not
    parts: int = 2
    part_workers: int = 2
    parts_min_leads: int | None = None  # None: PARTS_MIN_LEADS

    def statements(self, plan: QueryPlan) -> list[str]:
        """The SET LOCAL statements of a transaction that runs the scoring query of `plan`."""
        # shortest round-trip digits: the JSON numbers equal Python's repr of the same doubles
        out = ["SET LOCAL extra_float_digits = 1", f"SET LOCAL work_mem = '{self.work_mem}'"]
        workers = 0 if self.deterministic and _has_float_sums(plan) else self.parallel_workers
        if workers is not None:
            out.append(f"SET LOCAL max_parallel_workers_per_gather = {int(workers)}")
        if self.jit is not None:
            out.append(f"SET LOCAL jit = {'on' if self.jit else 'off'}")
        if self.deterministic:
            # a scan of the events started while another is under way begins where that one is, so a
            # lead's events come in another order (rotated); the sums no longer depend on it
            # (`in_database_sums`), the rows' order is kept the same from run to run all the same
            out.append("SET LOCAL synchronize_seqscans = off")
        return out


def eligible(evaluator: Evaluator) -> bool:
    """The model needs nothing the query does not produce, and the batch extra (sqlglot) is installed."""
    from leadscore._extras import available

    model = evaluator.model
    simple = model.lifecycle is None and not evaluator.scorer.predictive and not evaluator.fire_triggers
    return simple and available("batch")


def scoring_statement(
    evaluator: Evaluator, at: int, only: str | None = None, part: Part | None = None
) -> tuple[str, QueryPlan]:
    """The query, one row per stored lead (of `only`, of `part`), over CTEs that type the store's JSON.

    Raises NotExpressible when part of the model has no exact SQL."""
    model = evaluator.model
    names = model_names(model)
    plan = build_query(
        model, source_schema(names), at, flavor="portable", dedupe=False, event_leads=False, next_change=True
    )
    codes: dict[str, int] = {}
    query = postgres_sql(plan.sql, codes)
    if not query.startswith("WITH "):
        raise NotExpressible("unexpected shape of the scoring query")  # pragma: no cover
    # the events no rule or condition can read at `at` (too old for every window of their type, or of
    # a type the model never names) are not even parsed: on months of history, a large share
    found = horizons(model)
    keep = relevant_sql(found, "ts", at) if found is not None else None
    events = events_view(names, only, at, keep, codes, part)
    views = f"WITH {LEADS_VIEW} AS ({leads_view(names, only, part)}), {EVENTS_VIEW} AS ({events}), "
    return views + query[len("WITH ") :], plan


def _changed(dims: list[str]) -> str:
    """SQL: the score or a dimension moved by more than the last bits of a double (as the DuckDB bulk
    path judges it: sums run in another order than the pure scorer's, and an unchanged score that
    comes back one unit in the last place away is no change worth a history row)."""
    from leadscore.bulk.write import close_sql, same_dimensions_sql
    from leadscore.store.backends import PostgresStore

    same = same_dimensions_sql(PostgresStore, dims, "prev_dims", "dim_{}")
    return f"(NOT had OR NOT {close_sql('prev_score', 'score')} OR NOT {same})"


def _unchanged(dims: list[str]) -> str:
    """SQL over `_ls_shaped`: the stored row equals the new one in every column but the evaluation's
    (model, version, time), exactly (JSON by its text: `json` keeps the text as written), as
    `store_write.same_result_sql` judges it for the export path."""
    stored = [
        "r.score IS NOT DISTINCT FROM sh.score",
        "CAST(r.dimensions AS TEXT) IS NOT DISTINCT FROM sh.dims",
        "CAST(r.labels AS TEXT) IS NOT DISTINCT FROM sh.labels",
        "r.stage IS NULL",
        "CAST(r.stage_history AS TEXT) = '[]'",
        "CAST(r.playbook AS TEXT) IS NOT DISTINCT FROM sh.playbook",
        "r.queue_rank IS NOT DISTINCT FROM sh.queue_rank",
        "CAST(r.breakdown AS TEXT) IS NOT DISTINCT FROM sh.breakdown",
        "r.next_change_at IS NOT DISTINCT FROM sh.next_change_at",
    ]
    return "coalesce(" + " AND ".join(stored) + ", FALSE)"


def _shaped_sql(evaluator: Evaluator, plan: QueryPlan, at: int, part: Part | None = None) -> str:
    """SELECT over `_ls_scored`: the new result's columns (JSON as text), the stored row's score and
    dimensions (`had`, `prev_score`, `prev_dims`) and whether only the evaluation's columns differ
    (`unchanged`); with `part`, the stored rows of that part only (the planner hashes the smaller side:
    without, every part hashed all the stored results)."""
    model = evaluator.model
    dims = pg_rows.dimensions_json(plan)
    shaped = (
        f"SELECT lead_id, score, {dims} AS dims, {''.join(f'dim_{j}, ' for j in range(len(plan.dimensions)))}"
        f"{pg_rows.labels_json(model, plan)} AS labels, "
        f"{pg_rows.breakdown_json(plan)} AS breakdown, {pg_rows.playbook_json(model)} AS playbook, "
        f"{pg_rows.queue_rank(model)} AS queue_rank, least(next_change_at, (SELECT min(e.ts) FROM events AS e "
        f"WHERE e.lead_id = s.lead_id AND e.ts > {int(at)})) AS next_change_at FROM _ls_scored AS s OFFSET 0"
    )  # (fenced: inlined, the next event's lookup ran twice per lead, for the row and for `unchanged`)
    stored = "results" if part is None else f"(SELECT * FROM results WHERE {part.sql('lead_id')})"
    return (
        f"SELECT sh.*, r.lead_id IS NOT NULL AS had, r.score AS prev_score, r.dimensions AS prev_dims, "
        f"{_unchanged(plan.dimensions)} AS unchanged "
        f"FROM ({shaped}) AS sh LEFT JOIN {stored} AS r ON r.lead_id = sh.lead_id"
    )


def _history_cte(evaluator: Evaluator, plan: QueryPlan, at: int, cause: str, source: str) -> str:
    """`_ls_hist`: score history of the rows of `source` whose score or dimensions changed, by lead."""
    from leadscore.sql import literals as q

    return (
        "_ls_hist AS (INSERT INTO score_history (lead_id, at, model_version, score, delta, dimensions, cause) "
        f"SELECT lead_id, {int(at)}, {q.text(evaluator.version)}, score, "
        "score - coalesce(prev_score, CAST(0.0 AS DOUBLE PRECISION)), "
        f"CAST(dims AS JSON), {q.text(cause)} FROM {source} WHERE {_changed(plan.dimensions)} "
        "ORDER BY lead_id RETURNING 1)"
    )


def _results_ctes(evaluator: Evaluator, at: int, source: str) -> str:
    """`_ls_touch` and `_ls_up`: the rows of `source` stored (see `write_statement`)."""
    from leadscore.sql import literals as q

    version, name = q.text(evaluator.version), q.text(evaluator.model.name)
    cols = "model, model_version, evaluated_at, score, dimensions, labels, stage, stage_history, playbook, "
    cols += "queue_rank, breakdown, next_change_at"
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols.split(", "))
    current = f"r.model = {name} AND r.model_version = {version} AND r.evaluated_at = {int(at)}"
    return (
        f"_ls_touch AS (UPDATE results AS r SET model = {name}, model_version = {version}, "
        f"evaluated_at = {int(at)} FROM {source} AS s WHERE s.unchanged AND r.lead_id = s.lead_id "
        f"AND NOT ({current}) RETURNING 1), "
        f"_ls_up AS (INSERT INTO results (lead_id, {cols}) SELECT lead_id, {name}, {version}, {int(at)}, score, "
        "CAST(dims AS JSON), CAST(labels AS JSON), NULL, CAST('[]' AS JSON), CAST(playbook AS JSON), queue_rank, "
        f"CAST(breakdown AS JSON), next_change_at FROM {source} WHERE NOT unchanged "
        f"ON CONFLICT (lead_id) DO UPDATE SET {updates} RETURNING 1)"
    )


def write_statement(evaluator: Evaluator, at: int, cause: str, only: str | None = None) -> tuple[str, QueryPlan]:
    """One statement: score, append score history where the score or dimensions changed (from the
    results as they were), store results; returns (leads evaluated, history rows).

    A row equal to the new one but for the evaluation's model, version and time gets only those
    (a model change re-evaluates every lead but changes few); the others are upserted whole."""
    scoring, plan = scoring_statement(evaluator, at, only)
    sql = (
        f"WITH _ls_scored AS ({scoring}), _ls_shaped AS MATERIALIZED ({_shaped_sql(evaluator, plan, at)}), "
        f"{_history_cte(evaluator, plan, at, cause, '_ls_shaped')}, {_results_ctes(evaluator, at, '_ls_shaped')} "
        "SELECT (SELECT count(*) FROM _ls_shaped), (SELECT count(*) FROM _ls_hist)"
    )
    return sql, plan


def part_statements(evaluator: Evaluator, at: int, parts: Sequence[Part]) -> tuple[list[str], QueryPlan]:
    """For each part of the leads, the SELECT of its shaped rows (`_shaped_sql`): what
    `write_statement` writes from."""
    out, plan = [], None
    for part in parts:
        scoring, plan = scoring_statement(evaluator, at, part=part)
        out.append(f"WITH _ls_scored AS ({scoring}) {_shaped_sql(evaluator, plan, at, part)}")
    assert plan is not None
    return out, plan


def stage_write_statements(
    evaluator: Evaluator, plan: QueryPlan, at: int, cause: str
) -> tuple[Callable[[str], str], Callable[[Sequence[str]], str]]:
    """(the results write of one stage table of shaped rows: returns its rows' count; the score
    history of all of them, by lead as `write_statement` appends it: returns its rows' count)."""

    def results(stage: str) -> str:
        return f"WITH {_results_ctes(evaluator, at, stage)} SELECT (SELECT count(*) FROM {stage})"

    def history(stages: Sequence[str]) -> str:
        union = " UNION ALL ".join(f"SELECT * FROM {stage}" for stage in stages)
        source = f"_ls_all AS ({union}), {_history_cte(evaluator, plan, at, cause, '_ls_all')}"
        return f"WITH {source} SELECT count(*) FROM _ls_hist"

    return results, history


def _due_table(conn: Connection, at: int, version: str) -> None:
    """Refresh's due leads (maintenance._due): past their next change, another version, never scored."""
    conn.exec_driver_sql(f"CREATE TEMP TABLE {DUE} (lead_id text PRIMARY KEY) ON COMMIT DROP")
    conn.exec_driver_sql(
        f"INSERT INTO {DUE} SELECT lead_id FROM results WHERE next_change_at <= %(at)s "
        "OR model_version <> %(version)s UNION SELECT id FROM leads AS l "
        "WHERE NOT EXISTS (SELECT 1 FROM results AS r WHERE r.lead_id = l.id)",
        {"at": at, "version": version},
    )
    conn.exec_driver_sql(f"ANALYZE {DUE}")


def _has_float_sums(plan: QueryPlan) -> bool:
    return "SUM(" in plan.sql.upper()


def rescore_in_database(
    store: LeadStore,
    evaluator: Evaluator,
    at: int,
    cause: str,
    *,
    due_only: bool = False,
    settings: Settings | None = None,
    activation: Sequence[sa.Executable] = (),
) -> Rescored | None:
    """Every lead (or refresh's due leads) scored at `at` and written, in one transaction holding the
    leads' row locks, with `activation` (model apply's statements that make the model active); None
    when the store, the model or its SQL does not allow it, or when the data does: a value stored
    before numbers were checked at the door can overflow PostgreSQL's doubles (`1e308 + 1e308` is an
    error there, infinity in the pure scorer). Nothing is written then, the activation included."""
    from sqlalchemy.exc import DataError

    from leadscore.bulk.rescore import BatchRescored

    if not store.in_database_rescore or not eligible(evaluator):
        return None
    settings = settings or Settings()
    parts = [] if due_only else _parts(store, settings)
    only = DUE if due_only else None
    try:
        if parts:
            staged, plan = part_statements(evaluator, at, parts)
            sql = ""
        else:
            sql, plan = write_statement(evaluator, at, cause, only)
    except NotExpressible:
        return None
    if plan.has_lifecycle:  # pragma: no cover - excluded above; the query's fallback would need the pure path
        return None
    stages: list[str] = []

    def work(conn: Connection) -> Rescored:
        _drop_stages(store, stages)  # of an attempt the database asked to retry
        setup = settings.statements(plan)
        for statement in setup:
            conn.exec_driver_sql(statement)
        if due_only:
            _due_table(conn, at, evaluator.version)
            lock = f"SELECT id FROM leads WHERE id IN (SELECT lead_id FROM {DUE}) ORDER BY id FOR UPDATE"
        else:
            lock = "SELECT id FROM leads ORDER BY id FOR UPDATE"
        # the leads' row locks, as every writer takes them, before the statement's snapshot is taken
        conn.exec_driver_sql(f"SELECT count(*) FROM ({lock}) AS k")
        if parts:
            from leadscore.bulk.in_database_parts import write_parts

            writes = stage_write_statements(evaluator, plan, at, cause)
            counts = write_parts(store, conn, staged, writes, settings.part_workers, setup, stages)
        else:
            row = conn.exec_driver_sql(sql.replace("%", "%%")).one()
            counts = (int(row[0]), int(row[1]))
        for stmt in activation:
            conn.execute(stmt)
        return BatchRescored(leads=counts[0], changed=counts[1], engine="postgresql (in-database)")

    try:
        return store.transact(work)
    except BaseException as exc:
        _drop_stages(store, stages)
        if isinstance(exc, DataError):  # rolled back whole: the other paths score what PostgreSQL's doubles cannot hold
            return None
        raise


def _drop_stages(store: LeadStore, stages: list[str]) -> None:
    """The stages of attempts that were rolled back (their drops with them)."""
    if stages:
        from leadscore.bulk.in_database_parts import drop_stages

        drop_stages(store, stages)
        stages.clear()


def _parts(store: LeadStore, settings: Settings) -> list[Part]:
    """The parts of a model apply's leads (none: one statement), by the planner's count of the leads."""
    if settings.parts < 2:
        return []
    with store.read() as conn:
        estimate = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'leads'::regclass").scalar()
    least = PARTS_MIN_LEADS if settings.parts_min_leads is None else settings.parts_min_leads
    if least > 0 and (estimate is None or float(estimate) < least):  # (-1: never counted)
        return []
    return [Part(k, settings.parts) for k in range(settings.parts)]
