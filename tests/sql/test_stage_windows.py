"""The lifecycle replay's conditions in one pass of window functions (`sql.stage_windows`) against its
two oracles: the join that scores a lead at each event time (`stage_replay.join_conditions_query`),
row by row, and the pure scorer's replay (`CompiledLifecycle.replay`), stage and history lead by lead.

Generated models (windows, decay, limits, floors and caps, event and score conditions at exact
thresholds) and histories (ties in time, events on window edges, copies, stage_set events); then
hand-computed cases. `check_against_oracles` and the model `THRESHOLDS` serve the tests of the parts
too: the compiler (test_window_compiler.py), the rules and their decays (test_window_rules.py), the
conditions under the error bounds and the rows left to the join (test_window_errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings

from leadscore.batch import run_batch
from leadscore.batch.duckdb.run import BatchRun
from leadscore.bulk import frame_windows, frames
from leadscore.bulk.condition_replay import replay as replay_from_conditions
from leadscore.bulk.lifecycle_walk import drop_idle
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.timeutil import to_micros
from leadscore.engine.errors import ScoringDataError
from leadscore.engine.scorer import Scorer
from leadscore.engine.timeline import Timeline
from leadscore.model import ModelError, ScoringModel, parse_model, validate_model
from leadscore.sql import stage_replay
from leadscore.sql.stage_sql import auto_conditions
from leadscore.sql.stage_windows import WindowQuery, window_conditions_query
from tests.batch.tables import events_table, leads_table
from tests.support.profiles import examples
from tests.support.strategies import AT, edge_busy_data, edge_lifecycle_models

AT_US = to_micros(AT)
SETTINGS = settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Rows = dict[tuple[str, int], tuple[bool | None, ...]]


@dataclass
class Tables:
    window: Rows  # the one pass alone (None: left to the join)
    combined: Rows  # what `conditions_query` gives: the one pass, the join for the undecided rows
    join: Rows  # the join alone
    frames: Rows  # `bulk.frames.conditions_table`: the one pass's aggregates by NumPy, in parts, then the join
    busy: Rows  # the same without the rows `lifecycle_walk.drop_idle` drops (they cannot move a stage)
    idle: Rows  # `conditions_table(idle=True)`: those rows dropped by NumPy before the table is made


def _rows(con: duckdb.DuckDBPyConnection, sql: str, n: int) -> Rows:
    cols = "".join(f", _ls_c{k}" for k in range(n))
    found = con.execute(f"SELECT lead_id, _ls_t{cols} FROM ({sql})").fetchall()
    out: Rows = {}
    for row in found:
        key = (str(row[0]), int(row[1]))
        assert key not in out, f"two rows for {key}"
        out[key] = tuple(row[2:])
    return out


def tables(model: ScoringModel, leads: list[Lead], events: list[Event]) -> tuple[Tables, BatchRun]:
    run = run_batch(model, leads_table(leads), events_table(events), AT)
    con = run.con
    con.execute("CREATE OR REPLACE TEMP TABLE _t_ids AS SELECT DISTINCT id AS lead_id FROM leads")
    kw: dict[str, Any] = {
        "dedupe": run.stats.deduplicated,
        "dups_table": run.dups_table,
        "lookups": run.lookups,
        "null_ids": run.null_ids,
    }
    n = len(auto_conditions(model))
    window = window_conditions_query(model, run.schema, AT_US, "_t_ids", **kw)
    combined = stage_replay.conditions_query(model, run.schema, AT_US, "_t_ids", **kw)
    join = stage_replay.join_conditions_query(model, run.schema, AT_US, "_t_ids", **kw)
    inline = run.lookups.inline
    if window.frames is not None:
        check_aggregates(con, window, inline)
    # parts of a few rows: leads cut into many parts, each part whole leads
    frames.conditions_table(con, model, run.schema, AT_US, "_t_ids", "_t_frames", inline=inline, chunk_rows=7, **kw)
    got = [_rows(con, inline(sql), n) for sql in (window.sql, combined, join, "SELECT * FROM _t_frames")]
    drop_idle(con, "_t_frames", model, AT_US, "_t_ids")
    got.append(_rows(con, "SELECT * FROM _t_frames", n))
    frames.conditions_table(
        con, model, run.schema, AT_US, "_t_ids", "_t_idle", inline=inline, chunk_rows=7, idle=True, **kw
    )
    return Tables(*got, _rows(con, "SELECT * FROM _t_idle", n)), run


def check_aggregates(con: duckdb.DuckDBPyConnection, window: WindowQuery, inline: Any) -> None:
    """Each window aggregate by NumPy (`bulk.frame_windows`) against the window operator's, row by row: counts
    and times equal, the half-life epoch sums within a relative 1e-13 and NULL where the operator's are."""
    assert window.frames is not None
    rows = con.sql(f"SELECT * FROM ({inline(window.rows_sql)}) ORDER BY lead_id, _ls_ts").to_arrow_table()
    mine = frame_windows.aggregates(rows, window.frames, window.types)
    names = ["lead_id", "_ls_t", *window.frames]
    theirs = con.sql(f"SELECT {', '.join(names)} FROM ({inline(window.aggregates_sql)}) ORDER BY lead_id, _ls_t")
    expected = theirs.to_arrow_table()
    got = mine.sort_by([("lead_id", "ascending"), ("_ls_t", "ascending")])
    assert got.num_rows == expected.num_rows
    for name in names:
        a, b = got.column(name).to_pylist(), expected.column(name).to_pylist()
        kind = window.frames[name].kind if name in window.frames else ""
        if kind != "epoch_sum":
            assert a == b, name
            continue
        for x, y in zip(a, b, strict=True):
            assert (x is None) == (y is None), name
            assert x is None or y is None or abs(x - y) <= 1e-13 * abs(y), (name, x, y)


def _false(values: tuple[bool | None, ...]) -> tuple[bool, ...]:
    return tuple(bool(v) for v in values)


def check_against_oracles(model: ScoringModel, leads: list[Lead], events: list[Event]) -> Tables:
    got, _ = tables(model, leads, events)
    # the one pass decides what it decides as the join does, and leaves nothing undecided in the end
    assert set(got.window) == set(got.join)
    for key, values in got.window.items():
        exact = got.join[key]
        for v, e in zip(values, exact, strict=True):
            assert v is None or v == bool(e), (key, values, exact)
    assert set(got.combined) == set(got.join)
    for key, values in got.combined.items():
        assert None not in values
        assert _false(values) == _false(got.join[key]), key
    assert got.frames == got.combined
    # the same rows but where `drop_idle` reads a moving event the duplicate check dropped, and fewer where
    # a condition the replay cannot read yet is FALSE (`frames._unread`), or no longer reads after a time
    # where it held is TRUE (`frame_reads`): each row's conditions the same, or one of those instead (the
    # replays below say they are not read)
    assert set(got.idle) <= set(got.busy)
    for key, values in got.idle.items():
        assert all(v == b or v is not None for v, b in zip(values, got.busy[key], strict=True)), key
    # the stage and history from those conditions are the pure scorer's, lead by lead
    scorer = Scorer(model)
    lc = scorer.lifecycle
    assert lc is not None
    for lead in leads:
        timeline = Timeline([e for e in events if e.lead_id == lead.id], until=AT_US)

        def scores_at(t: int, tl: Timeline = timeline, attrs: Any = lead.attributes) -> dict[str, float]:
            return scorer.scores_at(attrs, tl, t)

        try:
            expected = lc.replay(lead.id, lead.attributes, timeline, AT_US, scores_at)
        except ScoringDataError:
            continue  # bad stage data: the pure scorer refuses it, the batch engine hands such leads to it
        steps = [(e.ts, e.type, e.id, e.properties.get("stage")) for e in timeline.events]
        conds = {t: _false(v) for (lid, t), v in got.combined.items() if lid == lead.id}
        init = lead.attributes.get("stage", lc.initial)
        assert replay_from_conditions(lc, init, steps, conds, AT_US) == expected, lead.id
        busy = {t: _false(v) for (lid, t), v in got.busy.items() if lid == lead.id}
        assert replay_from_conditions(lc, init, steps, busy, AT_US) == expected, lead.id
        idle = {t: _false(v) for (lid, t), v in got.idle.items() if lid == lead.id}
        assert replay_from_conditions(lc, init, steps, idle, AT_US) == expected, lead.id
    return got


def check_generated(model_data: dict[str, Any], sample: Any) -> None:
    """`check_against_oracles` of a generated model (one the validation refuses: nothing to check)."""
    try:
        model = validate_model(model_data)
    except ModelError:
        return
    check_against_oracles(model, *sample)


@pytest.mark.slow
@SETTINGS
@given(edge_lifecycle_models(), edge_busy_data())
def test_one_pass_equals_the_join_and_the_pure_replay(model_data: dict[str, Any], sample: Any) -> None:
    check_generated(model_data, sample)


# -- hand-computed cases at exact thresholds (their model is the one of test_window_*.py too) --------------

THRESHOLDS = """
format: 1
name: thresholds
dimensions:
  engagement: {cap: 40}
  fit: {floor: 0}
rules:
  - {id: visit, dimension: engagement, on: page_view, points: 15, within: 1d}
  - {id: read, dimension: engagement, on: read, points: 16, decay: {half_life: 1d}, within: 2d}
  - {id: fade, dimension: fit, on: demo, points: 20, decay: {linear: 2d}}
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 5}
lifecycle:
  stages: [lead, mql, sql]
  exits: [recycled]
  initial: lead
  transitions:
    - {to: mql, when: {score: engagement, gte: 40}}
    - {to: sql, when: {score: fit, eq: 15}}
    - {to: recycled, on: lost}
    - {to: lead, from: recycled, when: {score: total, lt: 8}}
"""


def ev(lead: str, typ: str, before: timedelta, eid: str) -> Event:
    return Event(lead, typ, AT - before, {}, eid)


def test_a_lead_without_events_has_its_row_at_t() -> None:
    """Only the attribute rule: fit 5, engagement 0, total 5 (< 8)."""
    model = parse_model(THRESHOLDS)
    got = check_against_oracles(model, [Lead("e", {"employees": 500})], [])
    assert got.combined == {("e", AT_US): (False, False, True)}


def test_a_heavy_lead_is_replayed_in_sql_not_by_the_pure_scorer() -> None:
    """300 events (the join used to hand leads past 100 to the pure scorer): the batch engine replays the
    lead in SQL, and its result equals the pure scorer's."""
    from leadscore.engine import score_many
    from tests.batch.compare import differences

    model = parse_model(THRESHOLDS)
    events = [
        ev("g", ("page_view", "read", "demo", "lost")[k % 4], timedelta(hours=3 * k + 1), str(k)) for k in range(300)
    ]
    leads = [Lead("g", {"employees": 120})]
    run = run_batch(model, leads_table(leads), events_table(events), AT)
    assert run.stats.replayed_leads == 1
    assert run.stats.fallback_leads == 0
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    assert not differences(expected, run.to_dicts())
    assert expected[0]["stage"] is not None


def test_flags_of_types_alone_are_read_from_the_type() -> None:
    """`rows_sql` leaves out the flags of a type alone (and, with `moving`, the moving and entering ones):
    `WindowQuery.types` names their types; a flag with `where:` stays a column."""
    model = parse_model(
        """
format: 1
name: typed
rules:
  - {id: visit, on: page_view, points: 5, within: 1d}
  - {id: pricing, on: page_view, where: {page: {eq: pricing}}, points: 10, within: 1d}
lifecycle:
  stages: [lead, mql]
  initial: lead
  transitions:
    - {to: mql, when: {score: total, gte: 30}}
    - {to: lead, on: reset}
"""
    )
    events = [Event("a", "page_view", AT - timedelta(hours=1), {"page": "pricing"}, "1")]
    run = run_batch(model, leads_table([Lead("a", {})]), events_table(events), AT)
    run.con.execute("CREATE OR REPLACE TEMP TABLE _t_ids AS SELECT 'a' AS lead_id")
    window = window_conditions_query(model, run.schema, AT_US, "_t_ids", dedupe=False, dups_table=None, moving=True)
    assert {k: v for k, v in window.types.items() if k.startswith("_ls_f")} == {"_ls_f0": ("page_view",)}
    assert window.types["_ls_mv"] == ("reset", "stage_set")
    picked = window.rows_sql.rsplit("\nSELECT ", 1)[1]
    assert picked.startswith("lead_id, _ls_ts, type, _ls_f1 FROM")
