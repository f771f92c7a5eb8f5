"""Stored results and their append-only history (scores with causes, stage moves)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadscore.domain import Lead, Result
from leadscore.domain.result import StageColumns
from leadscore.domain.timeutil import to_micros
from leadscore.store.backends import json_text
from leadscore.store.base import LeadStore
from leadscore.store.codec import result_of, result_row
from leadscore.store.leads_repo import chunks
from leadscore.store.recordset import recordset_insert, recordset_param
from leadscore.store.tables import (
    leads,
    models,
    pending_rescore,
    result_basis,
    results,
    score_history,
    stage_history,
)

_UPDATABLE = [c.name for c in results.columns if c.name != "lead_id"]
# built once: SQLAlchemy reuses their cache key and compiled form (per dialect for the upsert)
_RESULTS = sa.select(results).where(results.c.lead_id.in_(sa.bindparam("ids", expanding=True)))


def load_result_rows(conn: Connection, lead_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted(set(lead_ids))):
        for row in conn.execute(_RESULTS, {"ids": list(part)}).mappings():
            out[row["lead_id"]] = dict(row)
    return out


def load_results(conn: Connection, lead_ids: Sequence[str]) -> dict[str, Result]:
    """The stored results of the leads (those that have one)."""
    return {lead: result_of(row) for lead, row in load_result_rows(conn, lead_ids).items()}


# `load_results`' statement in PostgreSQL's SQL, for the driver (leadscore.store.realtime_pg: the
# read-back of a real-time event's results rides its writes' round trip); its rows: `result_rows`
RESULTS_PG = f"SELECT {', '.join(c.name for c in results.columns)} FROM results WHERE lead_id = ANY(%s)"


def result_rows(rows: Iterable[Sequence[Any]]) -> dict[str, Result]:
    names = [c.name for c in results.columns]
    found = (result_of(dict(zip(names, row, strict=True))) for row in rows)
    return {r.lead_id: r for r in found}


# What rescoring a lead reads besides its events, in one statement: the lead's attributes, its
# stored result (NULLs when it has none), the store's active model (its fingerprint) and whether the
# lead is queued for rescoring, so that a one-lead transaction makes one round trip for them instead
# of three, and unqueues the lead (a DELETE) only when it was queued.
_ACTIVE_VERSION = sa.select(models.c.version).where(models.c.active.is_(True)).scalar_subquery()
_STATES = (
    sa.select(
        leads.c.id,
        leads.c.attributes,
        _ACTIVE_VERSION.label("active_version"),
        *results.columns,
        result_basis.c.events_seen,
        pending_rescore.c.lead_id.label("queued"),
    )
    .select_from(
        leads.outerjoin(results, results.c.lead_id == leads.c.id)
        .outerjoin(result_basis, result_basis.c.lead_id == leads.c.id)
        .outerjoin(pending_rescore, pending_rescore.c.lead_id == leads.c.id)
    )
    .where(leads.c.id.in_(sa.bindparam("ids", expanding=True)))
)


def load_lead_states(
    conn: Connection, lead_ids: Sequence[str], queued: set[str] | None = None
) -> tuple[dict[str, Lead], dict[str, dict[str, Any]], str | None]:
    """The leads (those that exist), their stored result rows (with `events_seen` from `result_basis`,
    None without a row there), and the active model's fingerprint (None when no model is active), as
    `load_leads`, `load_result_rows` and `active_version` read them. `queued`, when given, receives
    the ids of those queued for rescoring (`pending_rescore`)."""
    found: dict[str, Lead] = {}
    rows: dict[str, dict[str, Any]] = {}
    active: str | None = None
    for part in chunks(sorted(set(lead_ids))):
        active = state_rows(conn.execute(_STATES, {"ids": list(part)}), found, rows, queued, active)
    if not found:  # no lead to read: the model's fingerprint still answers the caller's check
        active = conn.execute(sa.select(_ACTIVE_VERSION)).scalar()
    return found, rows, active


_NAMES = [c.name for c in results.columns]
# `_STATES` in PostgreSQL's SQL, for the driver (leadscore.store.realtime_pg); the active model's
# fingerprint comes with the leads' rows, so a lead that does not exist gives no row and no fingerprint
STATES_PG = (
    "SELECT leads.id, leads.attributes, (SELECT version FROM models WHERE active IS true), "
    + ", ".join(f"results.{name}" for name in _NAMES)
    + ", result_basis.events_seen, pending_rescore.lead_id FROM leads "
    "LEFT OUTER JOIN results ON results.lead_id = leads.id "
    "LEFT OUTER JOIN result_basis ON result_basis.lead_id = leads.id "
    "LEFT OUTER JOIN pending_rescore ON pending_rescore.lead_id = leads.id "
    "WHERE leads.id = ANY(%s)"
)
# One lead's (a real-time event's): its id a plain parameter. The server re-plans the statement above
# at every run (a custom plan: the generic one, for an array of unknown length, costs more), about
# 0.2 ms of its time for 0.04 of execution; for this one, the generic plan (primary-key look-ups) is
# as cheap as a custom one, so after five runs the prepared statement is planned no more.
STATES_ONE_PG = STATES_PG.replace("= ANY(%s)", "= %s")


def state_rows(
    found_rows: Iterable[Sequence[Any]],
    found: dict[str, Lead],
    rows: dict[str, dict[str, Any]],
    queued: set[str] | None,
    active: str | None,
) -> str | None:
    """`_STATES` rows (or `STATES_PG`'s) into `load_lead_states`' leads, result rows and queued ids;
    returns the active model's fingerprint they carry (`active` when there is no row)."""
    names = _NAMES
    for row in found_rows:
        found[row[0]] = Lead(row[0], row[1] or {})
        active = row[2]
        if row[3] is not None:
            rows[row[0]] = {**dict(zip(names, row[3:-2], strict=True)), "events_seen": row[-2]}
        if queued is not None and row[-1] is not None:
            queued.add(row[0])
    return active


def save_results(
    store: LeadStore,
    conn: Connection,
    items: Sequence[tuple[Result, int | None]],
    previous: dict[str, dict[str, Any]],
    cause: str,
    seen: Mapping[str, int] | None = None,
) -> int:
    """Upsert results; append score and stage history where they changed. Returns how many changed.
    `seen`: per lead, how many stored events its result was computed from (`result_basis`)."""
    if not items:
        return 0
    rows, basis, scores, stages = result_writes(items, previous, cause, seen)
    if len(rows) == 1 and store.name == "postgres" and (basis or scores):
        # one lead (a real-time event, a drain of one): its result, basis and score in one statement, one
        # round trip instead of up to three; the rows written are those of the statements below
        params = _prefixed("r", rows[0])
        for prefix, written in (("b", basis), ("h", scores)):
            if written:
                params.update(_prefixed(prefix, written[0]))
        conn.execute(_one_lead(store, bool(basis), bool(scores)), params)
    else:
        insert_many(conn, results, rows)
        insert_many(conn, result_basis, basis)
        insert_many(conn, score_history, scores)
    insert_many(conn, stage_history, stages)
    return len(scores)


_MANY: dict[tuple[str, bool, str | None, tuple[str, ...]], DriverInsert] = {}


def insert_many(
    conn: Connection, table: sa.Table, rows: Rows, conflict: str | None = None, names: Sequence[str] = ()
) -> None:
    """Insert (upsert: results, result_basis) the rows with one executemany of the driver, their JSON
    columns as JSON text (`driver_params`): the same rows as SQLAlchemy's statements write, without
    its per-row parameter processing (a drain of 200 leads spent more CPU there than in SQLite's
    writes: about 40 µs a lead, profiled). PostgreSQL: several rows in one statement
    (`recordset_insert`), many rows of a table without a conflict clause in one COPY (`_copy_rows`).
    `conflict`: the statement's ON CONFLICT clause (default: the table's in `_CONFLICTS`); `names`: the
    columns the rows hold (default: all but a serial id)."""
    if not rows:
        return
    postgres = conn.dialect.paramstyle != "qmark"
    key = (table.name, postgres, conflict, tuple(names))
    clause = _CONFLICTS.get(table.name, "") if conflict is None else conflict
    found = _MANY.get(key)
    if found is None:
        sql, cols, json_cols = driver_insert(table, clause, list(names) or None)
        if not postgres:  # SQLite: plain placeholders, JSON stored as the text itself
            sql = sql.replace(_JSON, "?").replace("%s", "?")
        found = _MANY[key] = (sql, cols, json_cols)
    sql, cols, json_cols = found
    if postgres and len(rows) > 1:
        if not clause and _copy_rows(conn, table, rows, cols, json_cols):
            return
        param = recordset_param(rows, cols, "DO UPDATE" in clause)
        if param is not None:
            conn.exec_driver_sql(recordset_insert(table, clause, cols), (param,))
            return
    conn.exec_driver_sql(sql, driver_params(rows, cols, json_cols))


def _copy_rows(conn: Connection, table: sa.Table, rows: Rows, cols: list[str], json_cols: frozenset[str]) -> bool:
    """PostgreSQL, a table without a conflict clause (the history tables): from `COPY_MIN_ROWS` rows
    one COPY of them, in their order (the serial ids numbered as the INSERT numbers them); False for
    fewer (the caller's INSERT). The same values as the executemany binds (`driver_params`: JSON
    columns as JSON text); the server reads each row's fields, where `recordset_insert` parsed the
    whole part as one JSON array first and then each row out of it (the history pass's stage rows:
    6,000 a part of 10,000 leads)."""
    from leadscore.store.backends import COPY_MIN_ROWS

    if len(rows) < COPY_MIN_ROWS:
        return False
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in driver_params(rows, cols, json_cols):
            copy.write_row(row)
    return True


Rows = list[dict[str, Any]]


def result_writes(
    items: Sequence[tuple[Result, int | None]],
    previous: dict[str, dict[str, Any]],
    cause: str,
    seen: Mapping[str, int] | None = None,
) -> tuple[Rows, Rows, Rows, Rows]:
    """The rows `save_results` writes: results, result_basis, score_history, stage_history."""
    rows = [result_row(r, nxt) for r, nxt in items]
    basis = [{"lead_id": r.lead_id, "events_seen": seen[r.lead_id]} for r, _ in items if seen and r.lead_id in seen]
    scores: list[dict[str, Any]] = []
    stages: list[dict[str, Any]] = []
    for result, _ in items:
        prev = previous.get(result.lead_id)
        at = to_micros(result.at)
        if (
            prev is None
            or not close(prev["score"], result.score)
            or not same_dimensions(prev["dimensions"], result.dimensions)
        ):
            before = prev["score"] if prev else 0.0
            scores.append(
                {
                    "lead_id": result.lead_id,
                    "at": at,
                    "model_version": result.model_version,
                    "score": result.score,
                    "delta": result.score - before,
                    "dimensions": dict(result.dimensions),
                    "cause": cause,
                }
            )
        stages.extend(_stage_moves(result, prev, cause))
    return rows, basis, scores, stages


# How far apart two scores (or dimension values) may be and still be the same: the last bits of a
# double. The batch engine sums in another order than the pure scorer, so an unchanged score can come
# back a unit in the last place away, and a cancelling sum a few 1e-16 from zero; neither is a change
# worth a history row. Every path decides "changed" with it (`bulk.write.close_sql` is its SQL), so the
# bulk and pure paths write the same history: with an exact test here, a dimension decaying from
# -3.6e-32 to -3.3e-44 was a change for the pure path and none for the bulk one.
SCORE_TOLERANCE = 1e-12


def close(old: float, new: float) -> bool:
    """`old` and `new` equal but for the last bits of a double (`SCORE_TOLERANCE`)."""
    return abs(old - new) <= SCORE_TOLERANCE * (1.0 + abs(new))


def same_dimensions(old: Mapping[str, float], new: Mapping[str, float]) -> bool:
    """The same dimensions, each value `close`."""
    return old.keys() == new.keys() and all(close(old[k], new[k]) for k in new)


def _prefixed(prefix: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{prefix}_{name}": value for name, value in row.items()}


def _bound(table: sa.Table, prefix: str) -> dict[str, Any]:
    """Values of every column but a generated key, as parameters named `<prefix>_<column>` (the
    statements of one `WITH` need distinct names)."""
    return {c.name: sa.bindparam(f"{prefix}_{c.name}", type_=c.type) for c in table.columns if c.name != "id"}


_ONE_LEAD: dict[tuple[str, bool, bool], Any] = {}


def _one_lead(store: LeadStore, with_basis: bool, with_score: bool) -> Any:
    """The results upsert, the basis upsert and the score-history insert of one lead as one statement
    (data-modifying `WITH` clauses on PostgreSQL: they write different tables, so together they do
    what they do one after the other). Built once per shape."""
    key = (store.name, with_basis, with_score)
    stmt = _ONE_LEAD.get(key)
    if stmt is None:
        upsert = store.insert(results).values(_bound(results, "r"))
        upsert = upsert.on_conflict_do_update(
            index_elements=["lead_id"], set_={c: upsert.excluded[c] for c in _UPDATABLE}
        )
        basis = store.insert(result_basis).values(_bound(result_basis, "b"))
        basis = basis.on_conflict_do_update(
            index_elements=["lead_id"], set_={"events_seen": basis.excluded.events_seen}
        )
        if with_score:
            stmt = score_history.insert().values(_bound(score_history, "h")).add_cte(upsert.cte("r"))
            if with_basis:
                stmt = stmt.add_cte(basis.cte("b"))
        else:
            stmt = basis.add_cte(upsert.cte("r"))
        _ONE_LEAD[key] = stmt
    return stmt


def _stage_moves(
    result: Result, prev: dict[str, Any] | None, cause: str, times: Sequence[int] | None = None
) -> list[dict[str, Any]]:
    """The replay's moves since the last evaluation; a first evaluation records the whole replay.

    A late event or a new model can change a stage without any move after the last evaluation:
    then one row records the change, with the evaluation's cause. `times`: the microseconds of each
    change of `result.stage_history` when the caller has them (the bulk path's walk), else read
    from the changes.
    """
    if result.stage is None:
        return []
    history = result.stage_history
    if times is None:
        times = [to_micros(m.at) for m in history]
    stages, froms = [m.stage for m in history], [m.previous for m in history]
    changes = StageColumns(stages, froms, [m.cause for m in history], [m.event_id for m in history], times)
    return stage_move_rows(
        result.lead_id, result.model_version, result.stage, result.at, changes, 0, len(times), prev, cause
    )


def stage_move_rows(
    lead: str,
    version: str,
    stage: str,
    at: datetime | int,
    changes: StageColumns,
    lo: int,
    hi: int,
    prev: dict[str, Any] | None,
    cause: str,
) -> list[dict[str, Any]]:
    """`_stage_moves` of a result in stage `stage` (not None) evaluated at `at` whose stage history is
    the changes lo..hi-1 of `changes`: the bulk history pass gives a part's walk as columns, with no
    `StageChange` per change made for this."""
    to, froms, causes, eids, times = changes
    since = prev["evaluated_at"] if prev else None
    rows = [
        {
            "lead_id": lead,
            "at": times[j],
            "from_stage": froms[j],
            "to_stage": to[j],
            "cause": causes[j],
            "event_key": eids[j],
            "model_version": version,
        }
        for j in range(lo, hi)
        if since is None or (times[j] > since and causes[j] != "initial")
    ]
    if prev is not None and not rows and prev["stage"] != stage:
        # the move that explains the new stage, from the replay, else the evaluation itself
        k = next((k for k in range(hi - 1, lo - 1, -1) if to[k] == stage), None)
        last_cause = causes[k] if k is not None else None
        rows.append(
            {
                "lead_id": lead,
                "at": times[k] if k is not None else (at if isinstance(at, int) else to_micros(at)),
                "from_stage": prev["stage"],
                "to_stage": stage,
                "cause": last_cause if last_cause is not None and last_cause != "initial" else cause,
                "event_key": eids[k] if k is not None else None,
                "model_version": version,
            }
        )
    return rows


# -- the same writes on the database driver (a few leads on PostgreSQL) ------------------------------
_JSON = "CAST(%s AS json)"


DriverInsert = tuple[str, list[str], frozenset[str]]


def driver_insert(table: sa.Table, conflict: str = "", names: list[str] | None = None, count: int = 1) -> DriverInsert:
    """An INSERT of `count` rows (one by default) of the columns `names` (default: every one but a serial
    id) in PostgreSQL's driver SQL, with the column names and the JSON ones (which take JSON text:
    `driver_params`)."""
    names = names or [c.name for c in table.columns if c.name != "id"]
    json_cols = frozenset(c.name for c in table.columns if isinstance(c.type, sa.JSON))
    marks = "(" + ", ".join(_JSON if n in json_cols else "%s" for n in names) + ")"
    values = ", ".join([marks] * count)
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES {values}{conflict}", names, json_cols


_CONFLICTS = {
    results.name: " ON CONFLICT (lead_id) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATABLE),
    result_basis.name: " ON CONFLICT (lead_id) DO UPDATE SET events_seen = EXCLUDED.events_seen",
}


def _columns(table: sa.Table) -> tuple[str, list[str], frozenset[str], str]:
    """A table's INSERT head in the driver's SQL, its columns (not a serial id), the JSON ones, and
    one row's placeholders."""
    _, names, json_cols = driver_insert(table)
    marks = "(" + ", ".join(_JSON if n in json_cols else "%s" for n in names) + ")"
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ", names, json_cols, marks


# in `result_writes`' order: results, result_basis, score_history, stage_history
_WRITTEN = [(_columns(t), _CONFLICTS.get(t.name, "")) for t in (results, result_basis, score_history, stage_history)]


def driver_params(rows: Rows, names: list[str], json_cols: frozenset[str]) -> list[tuple[Any, ...]]:
    """As SQLAlchemy's JSON type binds them: every value JSON text (None too: JSON null, not SQL NULL)."""
    if len(names) > 1 and json_cols.isdisjoint(names):  # (stage_history: a tuple per row in one C call)
        get = itemgetter(*names)
        return [get(r) for r in rows]
    return [tuple(json_text(r[n]) if n in json_cols else r[n] for n in names) for r in rows]


def write_results(
    cur: Any, writes: tuple[Rows, Rows, Rows, Rows], also: Sequence[tuple[str, Sequence[Any]]] = ()
) -> None:
    """`save_results`' rows (`result_writes`) on a PostgreSQL driver cursor, for pipeline mode: one
    statement, each table's rows one multi-row INSERT, those but the last in data-modifying `WITH`
    clauses (they write different tables, so together they do what they do one after the other, and
    the rows of a table are numbered in their order, as one statement per row numbers them). A few
    leads only (their statement's text depends on how many rows each table takes). `also`: other
    writes of other tables (statement, parameters) made in the same statement, first."""
    inserts: list[str] = [sql for sql, _ in also]
    params: list[Any] = [value for _, values in also for value in values]
    for ((head, names, json_cols, marks), conflict), rows in zip(_WRITTEN, writes, strict=True):
        if rows:
            inserts.append(head + ", ".join([marks] * len(rows)) + conflict)
            params.extend(value for row in driver_params(rows, names, json_cols) for value in row)
    if not inserts:
        return
    *first, last = inserts
    sql = ("WITH " + ", ".join(f"w{i} AS ({q})" for i, q in enumerate(first)) + " " if first else "") + last
    cur.execute(sql, params)
