"""The lifecycle replay's conditions in one pass of window functions (`sql.stage_windows`) against its
two oracles: the join that scores a lead at each event time (`stage_replay.join_conditions_query`),
row by row, and the pure scorer's replay (`CompiledLifecycle.replay`), stage and history lead by lead.

Generated models (windows, decay, limits, floors and caps, event and score conditions at exact
thresholds) and histories (ties in time, events on window edges, copies, stage_set events); then
hand-computed cases at exact thresholds, and the rows the one pass leaves to the join.
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
from leadscore.bulk.lifecycle_history import replay as replay_from_conditions
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


# -- hand-computed cases at exact thresholds ----------------------------------------------------------

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


def _ev(lead: str, typ: str, before: timedelta, eid: str) -> Event:
    return Event(lead, typ, AT - before, {}, eid)


def test_a_cap_reached_exactly_decides_as_the_pure_scorer() -> None:
    """Three visits within the day: 45 capped to 40, exactly; `gte: 40` holds at the third visit, not
    at the second (30); at the fourth, exactly one day after the second, the second is out (T - 1d <
    ts fails on the edge) and the first long gone: two visits, 30."""
    model = parse_model(THRESHOLDS)
    h = timedelta(hours=1)
    events = [
        _ev("a", "page_view", 30 * h, "1"),
        _ev("a", "page_view", 29 * h, "2"),  # on the edge of the 1-day window at the fourth
        _ev("a", "page_view", 28 * h, "3"),  # the third, within 1 day of the first: 45 -> 40
        _ev("a", "page_view", 5 * h, "4"),
    ]
    got = check_against_oracles(model, [Lead("a", {})], events)
    at = {t: v for (_, t), v in got.combined.items()}
    assert at[to_micros(AT - 29 * h)][0] is False  # 30
    assert at[to_micros(AT - 28 * h)][0] is True  # 45, capped at 40 exactly
    assert at[to_micros(AT - 5 * h)][0] is False
    assert got.window[("a", to_micros(AT - 28 * h))][0] is True  # decided without the join


def test_ties_at_one_instant_count_together() -> None:
    """Two reads at the same instant: 16 + 16 = 32, and a visit at that instant brings 47 -> 40."""
    model = parse_model(THRESHOLDS)
    events = [_ev("b", "read", timedelta(hours=5), "1"), _ev("b", "read", timedelta(hours=5), "2")]
    events.append(_ev("b", "page_view", timedelta(hours=5), "3"))
    got = check_against_oracles(model, [Lead("b", {})], events)
    assert got.combined[("b", to_micros(AT - timedelta(hours=5)))][0] is True
    assert len(got.combined) == 2  # one row for the instant, one at T


def test_a_decayed_sum_exactly_at_its_threshold_goes_to_the_join() -> None:
    """fit: a demo 1 day before T under a 2-day linear decay gives 10 and the attribute 5: exactly 15,
    `eq: 15`. The one pass's rewritten sum cannot tell 15 from its neighbours; the join decides."""
    model = parse_model(THRESHOLDS)
    events = [_ev("c", "demo", timedelta(days=1), "1"), _ev("c", "page_view", timedelta(hours=1), "2")]
    got = check_against_oracles(model, [Lead("c", {"employees": 100})], events)
    assert got.window[("c", AT_US)][1] is None
    assert got.join[("c", AT_US)][1] is True
    assert got.combined[("c", AT_US)][1] is True
    # at the demo's own time its factor is 1: 20 + 5, certainly not 15, decided in one pass
    assert got.window[("c", to_micros(AT - timedelta(days=1)))][1] is False


def test_a_half_life_at_a_whole_number_of_half_lives() -> None:
    """A read 1 day (one half-life) before another: 16 * 0.5 + 16 = 24; at T, 2 days after the first
    (on the 2-day window's edge: out) and 1 day after the second, 8."""
    model = parse_model(THRESHOLDS)
    events = [_ev("d", "read", timedelta(days=2), "1"), _ev("d", "read", timedelta(days=1), "2")]
    check_against_oracles(model, [Lead("d", {})], events)


def test_a_lead_without_events_has_its_row_at_t() -> None:
    """Only the attribute rule: fit 5, engagement 0, total 5 (< 8)."""
    model = parse_model(THRESHOLDS)
    got = check_against_oracles(model, [Lead("e", {"employees": 500})], [])
    assert got.combined == {("e", AT_US): (False, False, True)}


def test_heavy_leads_over_many_half_lives() -> None:
    """Hundreds of events over years with a short half-life and no window: the epochs keep every weight
    finite (the whole history spans far more than 2 ** 1024 in weights relative to one anchor)."""
    model = parse_model(
        THRESHOLDS.replace("decay: {half_life: 1d}, within: 2d", "decay: {half_life: 1h}").replace(
            "gte: 40}", "gte: 31}"
        )
    )
    events = [_ev("f", "read" if k % 3 else "page_view", timedelta(hours=7 * k + (k % 5)), str(k)) for k in range(600)]
    got = check_against_oracles(model, [Lead("f", {})], events)
    assert len(got.combined) > 500


def test_a_heavy_lead_is_replayed_in_sql_not_by_the_pure_scorer() -> None:
    """300 events (the join used to hand leads past 100 to the pure scorer): the batch engine replays the
    lead in SQL, and its result equals the pure scorer's."""
    from leadscore.engine import score_many
    from tests.batch.compare import differences

    model = parse_model(THRESHOLDS)
    events = [
        _ev("g", ("page_view", "read", "demo", "lost")[k % 4], timedelta(hours=3 * k + 1), str(k)) for k in range(300)
    ]
    leads = [Lead("g", {"employees": 120})]
    run = run_batch(model, leads_table(leads), events_table(events), AT)
    assert run.stats.replayed_leads == 1
    assert run.stats.fallback_leads == 0
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    assert not differences(expected, run.to_dicts())
    assert expected[0]["stage"] is not None


HEAVY_LINEAR = """
format: 1
name: heavy-linear
dimensions:
  fit: {}
rules:
  - {id: fade, dimension: fit, on: demo, points: 1, decay: {linear: 2d}}
lifecycle:
  stages: [lead, mql]
  initial: lead
  transitions:
    - {to: mql, when: {score: fit, gte: 3000}}
"""


def test_a_linear_decay_over_thousands_of_events_does_not_overflow() -> None:
    """6,000 demos within the 2-day linear decay: the count times the time (about 1.8e15 micros) is past
    a BIGINT (9.2e18), so the rewritten sum must not multiply them as BIGINTs. 300 demos at each of 20
    instants (ties keep the join and the pure replay small); the lead reaches 3,000 part-way, the
    other lead never does. Conditions, stage and history equal the join's and the pure scorer's, and
    the batch engine's results equal the pure scorer's."""
    from leadscore.engine import score_many
    from tests.batch.compare import differences

    model = parse_model(HEAVY_LINEAR)
    events = [_ev("h", "demo", timedelta(hours=40 - 2 * (k // 300), minutes=7), str(k)) for k in range(6000)]
    events += [_ev("i", "demo", timedelta(hours=k + 1), f"i{k}") for k in range(3)]
    leads = [Lead("h", {}), Lead("i", {})]
    got = check_against_oracles(model, leads, events)
    assert got.combined[("h", AT_US)] == (True,)
    assert got.combined[("i", AT_US)] == (False,)
    run = run_batch(model, leads_table(leads), events_table(events), AT)
    expected = [r.to_dict() for r in score_many(model, leads, events, AT)]
    assert not differences(expected, run.to_dicts())
    assert [r["stage"] for r in expected] == ["mql", "lead"]


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
