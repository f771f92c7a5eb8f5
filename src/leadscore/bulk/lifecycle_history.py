"""Stage history and trigger firings of the leads the batch engine replayed, finished in Python.

The batch engine's replay in SQL (`sql.stage_replay`) computes, for each lead it replays, every automatic
transition's condition at each of the lead's event times and at T (`_ls_conds`, kept here as
CONDS). With those, the replay of `engine.lifecycle_replay.CompiledLifecycle.replay` needs no scoring at all:
`replay` below walks the lead's events in log order and reads the conditions instead of evaluating
them, giving the same stage and the same history (times, causes, event ids). From the query's row,
that history and the stored result, the stored rows follow as the pure path writes them:
`results_repo._stage_moves` for the stage-history rows and `triggers.detect_triggers` for the outbox,
with the score at T - within from the batch engine's run at that time (`store_lifecycle`).

Works through the leads in parts of `PART` inside the write transaction (their stored results read
there, under their locks), so memory stays bounded and the results read are the ones replaced.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from leadscore.domain.result import StageChange
from leadscore.domain.timeutil import from_micros, to_micros
from leadscore.engine.lifecycle_replay import STAGE_SET, CompiledLifecycle
from leadscore.model.spec import Trigger
from leadscore.triggers.firings import TriggerFiring, detect_triggers

if TYPE_CHECKING:
    import duckdb
    from sqlalchemy.engine import Connection

    from leadscore.batch.duckdb.run import BatchRun
    from leadscore.store.base import LeadStore
    from leadscore.store.pipeline import Evaluator

CONDS = "_bl_conds"  # DuckDB: (lead_id, _ls_t, _ls_c0..) of the replayed leads
HIST = "_bl_hist"  # DuckDB: (lead_id, stage_history JSON text) of those leads
PART = 2000

Step = tuple[int, str, str | None, str | None]  # (time, type, event id, `stage` property)


def replay(
    lc: CompiledLifecycle, init: str, steps: Sequence[Step], conds: dict[int, tuple[bool, ...]], at: int
) -> tuple[str, list[StageChange]]:
    """`CompiledLifecycle.replay` with each automatic condition read from `conds` (by time; absent or
    unknown: false) instead of evaluated. `steps`: the lead's events up to `at` in log order."""
    stage = init
    start = steps[0][0] if steps else at
    history = [StageChange(stage, from_micros(start), None, "initial")]
    nothing: tuple[bool, ...] = ()

    def move(to: str, when: int, cause: str, event_id: str | None = None) -> None:
        nonlocal stage
        if to != stage:
            history.append(StageChange(to, from_micros(when), stage, cause, event_id))
            stage = to

    def automatic(when: int) -> None:
        if stage not in lc.auto_sources:
            return
        values = conds.get(when, nothing)
        for _ in range(len(lc.stages) + 1):
            for k, tr in enumerate(lc.auto):
                if stage in tr.sources and k < len(values) and values[k]:
                    move(tr.to, when, "auto")
                    break
            else:
                return

    for ts, typ, event_id, target in steps:
        if typ == STAGE_SET:
            assert target is not None  # a bad `stage` is the pure scorer's to refuse (fallback)
            move(target, ts, "manual", event_id)
        else:
            for etr in lc.event_transitions:
                if typ in etr.types and (etr.sources is None or stage in etr.sources):
                    move(etr.to, ts, f"event:{typ}", event_id)
                    break
        automatic(ts)
    automatic(at)
    return stage, history


def _register(con: duckdb.DuckDBPyConnection, ids: list[str]) -> None:
    import pyarrow as pa

    con.register("_bl_part", pa.table({"lead_id": pa.array(ids, pa.string())}))


def _steps(run: BatchRun, at: int) -> dict[str, list[Step]]:
    slot = next((s.column for s in run.schema.events.of("stage") if s.kind == "str"), None)
    stage = f'e."{slot}"' if slot else "CAST(NULL AS VARCHAR)"
    event_id = "e.id" if run.schema.has_event_id else "CAST(NULL AS VARCHAR)"
    rows = run.con.execute(
        f'SELECT e.lead_id, epoch_us(e."timestamp") AS t, e.type, {event_id}, {stage} FROM events AS e '
        f'JOIN _bl_part AS p ON p.lead_id = e.lead_id WHERE epoch_us(e."timestamp") <= {int(at)} '
        "ORDER BY e.lead_id, t, e._ls_ord"
    ).fetchall()
    out: dict[str, list[Step]] = {}
    for lead, t, typ, eid, target in rows:
        out.setdefault(lead, []).append((int(t), typ, eid, target))
    return out


def _conds(run: BatchRun, n: int) -> dict[str, dict[int, tuple[bool, ...]]]:
    cols = "".join(f", coalesce(c._ls_c{k}, FALSE)" for k in range(n))
    rows = run.con.execute(
        f"SELECT c.lead_id, c._ls_t{cols} FROM {CONDS} AS c JOIN _bl_part AS p ON p.lead_id = c.lead_id"
    ).fetchall()
    out: dict[str, dict[int, tuple[bool, ...]]] = {}
    for row in rows:
        out.setdefault(row[0], {})[int(row[1])] = tuple(bool(v) for v in row[2:])
    return out


def _shaped(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, Any]]:
    from leadscore.bulk.write import RESULT_COLUMNS, ROWS_TABLE

    cols = ", ".join(f"s.{c}" for c in RESULT_COLUMNS)
    rows = con.execute(f"SELECT {cols} FROM {ROWS_TABLE} AS s JOIN _bl_part AS p ON p.lead_id = s.lead_id").fetchall()
    out = {}
    for row in rows:
        d = dict(zip(RESULT_COLUMNS, row, strict=True))
        for key in ("dimensions", "labels", "playbook", "breakdown"):
            d[key] = json.loads(d[key]) if d[key] is not None else None
        out[d["lead_id"]] = d
    return out


def _inits(run: BatchRun, initial: str) -> dict[str, str]:
    slot = next((s.column for s in run.schema.leads.of("stage") if s.kind == "str"), None)
    if slot is None:
        return {}
    rows = run.con.execute(
        f'SELECT l.id, l."{slot}" FROM leads AS l JOIN _bl_part AS p ON p.lead_id = l.id WHERE l."{slot}" IS NOT NULL'
    ).fetchall()
    return {lead: value for lead, value in rows if value != initial}


def _befores(con: duckdb.DuckDBPyConnection, windows: list[int]) -> list[dict[str, float]]:
    from leadscore.bulk.lifecycle_split import before_table

    out = []
    for k in range(len(windows)):
        rows = con.execute(
            f"SELECT b.lead_id, b.score FROM {before_table(k)} AS b JOIN _bl_part AS p ON p.lead_id = b.lead_id"
        ).fetchall()
        out.append({lead: float(score) for lead, score in rows})
    return out


def finish(
    store: LeadStore, conn: Connection, run: BatchRun, evaluator: Evaluator, at: int, cause: str
) -> tuple[list[TriggerFiring], list[str]]:
    """For each lead of PY: its replay into HIST, its stage-history rows and outbox messages written
    (unless its stored result is newer than `at`: then the bulk write leaves it alone too). Returns
    the firings, and the leads whose replay here ends in another stage than the query's (none is
    expected: both fold the same conditions; the caller has the pure scorer rescore them)."""
    import pyarrow as pa

    from leadscore.bulk.lifecycle_split import PY, score_windows
    from leadscore.store.codec import result_of
    from leadscore.store.outbox_repo import enqueue
    from leadscore.store.results_repo import _stage_moves, load_result_rows
    from leadscore.store.tables import stage_history

    con, model = run.con, evaluator.model
    con.execute(f"CREATE OR REPLACE TEMP TABLE {HIST} (lead_id VARCHAR, stage_history VARCHAR)")
    lc = evaluator.scorer.lifecycle
    windows = score_windows(evaluator)
    n_auto = len(lc.auto) if lc is not None else 0
    has_conds = bool(con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{CONDS}'").fetchall()[0][0])
    ids = [str(r[0]) for r in con.execute(f"SELECT lead_id FROM {PY} ORDER BY lead_id").fetchall()]
    firings: list[TriggerFiring] = []
    disagree: list[str] = []
    for i in range(0, len(ids), PART):
        part = ids[i : i + PART]
        store.lock_leads(conn, part)
        previous = load_result_rows(conn, part)
        _register(con, part)
        shaped = _shaped(con)
        steps = _steps(run, at) if lc is not None else {}
        conds = _conds(run, n_auto) if lc is not None and has_conds else {}
        inits = _inits(run, lc.initial) if lc is not None else {}
        befores = _befores(con, windows)
        con.unregister("_bl_part")
        hist_rows: list[tuple[str, str]] = []
        moves: list[dict[str, Any]] = []
        fired: list[TriggerFiring] = []
        for lead in part:
            prev_row = previous.get(lead)
            if prev_row is not None and prev_row["evaluated_at"] > at:
                continue  # rescored meanwhile by a newer change: left alone, as its result row is
            row = shaped[lead]
            history: list[StageChange] = []
            if lc is not None:
                stage, history = replay(lc, inits.get(lead, lc.initial), steps.get(lead, []), conds.get(lead, {}), at)
                if stage != row["stage"]:
                    disagree.append(lead)
                    continue
            row["stage_history"] = [{**s.to_dict(), "at": to_micros(s.at)} for s in history]  # as result_row
            result = result_of(row)
            hist_rows.append((lead, json.dumps(row["stage_history"])))
            moves.extend(_stage_moves(result, prev_row, cause))
            if evaluator.fire_triggers:
                prev = result_of(prev_row) if prev_row is not None else None
                if prev is not None and prev.model_version != result.model_version and prev.model != result.model:
                    prev = None  # another model's labels and stages are not this model's transitions
                fired += detect_triggers(model, prev, result, score_before_window=_before(windows, befores, lead))
        if moves:
            conn.execute(stage_history.insert(), moves)
        enqueue(store, conn, fired, at)
        firings += fired
        table = pa.table({"lead_id": [h[0] for h in hist_rows], "stage_history": [h[1] for h in hist_rows]})
        con.register("_bl_hist_part", table)
        con.execute(f"INSERT INTO {HIST} SELECT lead_id, stage_history FROM _bl_hist_part")
        con.unregister("_bl_hist_part")
    return firings, disagree


def _before(windows: list[int], befores: list[dict[str, float]], lead: str) -> Callable[[Trigger], float]:
    def before(trigger: Trigger) -> float:
        assert trigger.within is not None
        return befores[windows.index(trigger.within.micros)][lead]

    return before
