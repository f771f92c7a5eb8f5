"""`model apply` / `refresh` in bulk for models with a lifecycle and triggers: the bulk path stores
exactly what the pure path stores, table by table, row by row (results, score history, stage history,
outbox). Two stores of one backend hold the same data; one takes the bulk path, the other the pure one.

Compared: every column but the generated surrogate `id` of the history and outbox tables (rows are
matched in a stable order instead: lead, time, then content). Floats agree to 1e-9: the batch engine
sums in another order than the pure scorer.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from leadscore.app.maintenance import apply, refresh
from leadscore.app.service import LeadService
from leadscore.bulk.rescore import BatchRescored
from leadscore.domain import Event, Lead
from leadscore.model import ScoringModel, parse_model
from leadscore.model.spec import Trigger
from leadscore.store import LeadStore, open_store
from leadscore.store.pipeline import Evaluator
from leadscore.store.tables import outbox, results, score_history, stage_history
from tests.batch.compare import same
from tests.store.conftest import BACKENDS, CLOCK_START, MODEL, FixedClock, twin_urls
from tests.store.helpers import START
from tests.support.strategies import AT, models, populations

ROOT = Path(__file__).resolve().parents[2]
HEAVY = 150
B2B = (ROOT / "examples" / "b2b-saas" / "model.yaml").read_text(encoding="utf-8")

# exits, a recycle back into nurturing, `from:` lists, a stage attribute and stage_set events
RECYCLE = """
format: 1
name: recycle
dimensions:
  fit: {}
  engagement: {cap: 100, floor: -30}
rules:
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 30}
  - {id: visit, dimension: engagement, on: page_view, points: 5, within: 30d, limit: 60}
  - {id: pricing, dimension: engagement, on: page_view, where: {path: {contains: pricing}}, points: 20,
     decay: {half_life: 7d}}
  - {id: demo, dimension: engagement, on: demo_request, points: 40, once: true}
  - {id: quiet, dimension: engagement, when: {none: page_view, within: 14d}, points: -10}
labels:
  temperature:
    - {label: hot, when: {score: total, gte: 60}}
    - {label: warm, when: {score: total, gt: 10}}
    - {label: cold}
lifecycle:
  stages: [subscriber, lead, mql, sql]
  exits: [recycled, disqualified]
  initial: lead
  transitions:
    - {to: lead, from: subscriber, when: {count: demo_request, gte: 1}}
    - {to: mql, when: {all: [{score: total, gte: 60}, {score: engagement, gte: 25}]}}
    - {to: sql, on: sales_accepted, from: [mql]}
    - {to: recycled, on: sales_rejected}
    - {to: disqualified, from: [lead, mql], when: {count: email_bounce, gte: 1}}
    - {to: lead, from: recycled, when: {score: engagement, lt: 5}}
playbooks:
  - {name: call, when: {stage: {in: [mql, sql]}}, priority: 1, action: Call now}
  - {name: nurture, when: {label: temperature, eq: warm}, action: Nurture}
triggers:
  - {id: to-mql, on: stage_changed, to: mql, destination: crm}
  - {id: any-move, on: stage_changed, destination: log}
  - {id: hot, on: label_changed, set: temperature, to: hot, destination: chat}
  - {id: cooled, on: label_changed, set: temperature, destination: log, when: {score: fit, gte: 30}}
  - {id: jump, on: score_changed, by: {gte: 15}, within: 2d, destination: chat}
"""

TYPES = [
    "page_view",
    "page_view",
    "page_view",
    "demo_request",
    "email_open",
    "sales_accepted",
    "sales_rejected",
    "email_bounce",
    "stage_set",
]


def _leads(seed: int, n: int) -> list[Lead]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        attrs: dict[str, Any] = {"employees": rnd.choice([5, 50, 150, 5000])}
        if i % 9 == 4:
            attrs["stage"] = "mql" if i % 2 else "lead"
        out.append(Lead.of(f"L{i:04d}", **attrs))
    return out


def _events(seed: int, n_leads: int, n: int, *, with_stages: bool) -> list[Event]:
    """Events of most leads (every fifth has none), lifecycle events of some; lead L0001 has HEAVY events,
    more than the SQL replay took before it ran in one pass (100): the bulk path replays it too."""
    rnd = random.Random(seed)
    out = [
        Event("L0001", "page_view", START + timedelta(hours=7 * k), {"path": "/pricing"}, f"busy-{k}")
        for k in range(HEAVY)
    ]
    for i in range(n):
        lead = rnd.randrange(n_leads)
        if lead % 5 == 0:
            continue
        typ = rnd.choice(TYPES if with_stages and lead % 3 == 0 else TYPES[:5])
        props: dict[str, Any] = {"path": rnd.choice(["/", "/pricing", "/docs"])} if typ == "page_view" else {}
        if typ == "stage_set":
            props = {"stage": rnd.choice(["lead", "mql", "recycled"])}
        when = START + timedelta(minutes=rnd.randrange(60 * 24 * 80))
        out.append(Event(f"L{lead:04d}", typ, when, props, f"e{seed}-{i}"))
    return out


def snapshot(store: LeadStore) -> dict[str, list[dict[str, Any]]]:
    """Every row of the four tables a rescore writes, without surrogate ids, in a stable order."""
    out: dict[str, list[dict[str, Any]]] = {}
    with store.read() as conn:
        out["results"] = [dict(r) for r in conn.execute(sa.select(results).order_by(results.c.lead_id)).mappings()]
        for table in (score_history, stage_history, outbox):
            rows = [{k: v for k, v in r.items() if k != "id"} for r in conn.execute(sa.select(table)).mappings()]
            out[table.name] = sorted(rows, key=lambda r: (r["lead_id"], repr(sorted(r.items(), key=str))))
    return out


def assert_same_stores(bulk: LeadStore, pure: LeadStore) -> dict[str, list[dict[str, Any]]]:
    a, b = snapshot(bulk), snapshot(pure)
    diff = []
    for name in a:
        if len(a[name]) != len(b[name]):
            diff.append(f"{name}: {len(a[name])} rows in bulk, {len(b[name])} in pure")
            continue
        diff += same(a[name], b[name], name)
    assert not diff, "\n".join(diff[:12])
    return a


def _twin_data(service: LeadService) -> None:
    service.ingest_leads(_leads(3, 60))
    service.ingest_events(_events(3, 60, 900, with_stages=True))


@pytest.fixture(params=BACKENDS)
def twins(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[tuple[LeadStore, LeadStore]]:
    """Two stores of one backend with the same leads and events, scored by the store tests' model.

    The data is ingested once per worker and backend (`twin_urls`), then copied for each test: the many
    tests that start from it check the rescores that follow, not the ingest."""
    assert clock.now == CLOCK_START
    pair = [open_store(url) for url in twin_urls(request.param, "twins", _twin_data, tmp_path, request)]
    yield pair[0], pair[1]
    for s in pair:
        s.dispose()


def _both(
    twins: tuple[LeadStore, LeadStore], clock: FixedClock, model: str | ScoringModel, what: str = "apply"
) -> BatchRescored:
    fast, pure = twins
    evaluator = Evaluator(parse_model(model) if isinstance(model, str) else model)
    now = lambda: int(clock.now.timestamp() * 1_000_000)  # noqa: E731
    if what == "apply":
        done = apply(fast, evaluator, now)
        reference = apply(pure, evaluator, now, bulk=False)
    else:
        done = refresh(fast, evaluator, now, bulk_min=1)
        reference = refresh(pure, evaluator, now, bulk_min=None)
    assert not isinstance(reference, BatchRescored)
    if what == "refresh" and reference.leads == 0:
        assert done.leads == 0  # nothing due: nothing for the bulk path either
        return BatchRescored()
    assert isinstance(done, BatchRescored), "the bulk path was not taken"
    assert done.leads == reference.leads
    assert done.changed == reference.changed
    assert sorted(f.key for f in done.firings) == sorted(f.key for f in reference.firings)
    return done


@pytest.mark.slow
@pytest.mark.parametrize(
    "model", [RECYCLE, B2B, MODEL.replace("points: 30}", "points: 35}")], ids=["recycle", "b2b", "same-name"]
)
def test_apply_then_refresh_in_bulk_store_what_the_pure_path_stores(
    twins: tuple[LeadStore, LeadStore], clock: FixedClock, model: str
) -> None:
    runs = [_both(twins, clock, model)]
    rows = assert_same_stores(*twins)
    assert rows["stage_history"] and rows["outbox"]
    clock.advance(days=3)
    runs.append(_both(twins, clock, model, "refresh"))
    assert_same_stores(*twins)
    clock.advance(days=40)
    runs.append(_both(twins, clock, model, "refresh"))
    assert_same_stores(*twins)
    assert all(r.history_leads > 0 for r in runs)  # some leads moved, or fired: their history from the replay
    # L0001's HEAVY events are replayed in one pass like the others': no lead needs the pure scorer
    assert all(r.fallback_leads == 0 for r in runs)
    assert any(r.fallback_leads + r.history_leads < r.leads for r in runs)  # the others straight from the query


RULES_ONLY = MODEL.split("lifecycle:")[0] + "playbooks:\n  - {name: newsletter, action: Newsletter}\n"


@pytest.mark.slow
@pytest.mark.parametrize("start", ["no-results", "rules-only"])
def test_first_lifecycle_in_bulk_records_each_leads_initial_stage(
    twins: tuple[LeadStore, LeadStore], clock: FixedClock, start: str
) -> None:
    """Quiet leads written in bulk get the stage-history row the pure path writes: a first evaluation
    its `initial` entry, a result without a stage the move into the initial stage (the apply's cause)."""
    for s in twins:
        with s.write() as conn:
            conn.execute(outbox.delete())
            if start == "no-results":
                conn.execute(results.delete())
    if start == "rules-only":  # the same stored results to start from (a bulk rules-only apply may leave
        # last-bit differences in sums, which a later exact comparison would see as changes)
        for s in twins:
            apply(s, Evaluator(parse_model(RULES_ONLY)), lambda: int(clock.now.timestamp() * 1e6), bulk=False)
    quiet = MODEL.replace("points: 30}", "points: 35}")  # no rename: previous labels still count
    done = _both(twins, clock, quiet)
    assert done.fallback_leads + done.history_leads < done.leads
    rows = assert_same_stores(*twins)
    causes = {r["cause"] for r in rows["stage_history"]}
    assert ("initial" if start == "no-results" else f"model:{Evaluator(parse_model(quiet)).version}") in causes
    assert rows["outbox"] or start == "rules-only"  # there every move predates the stored result: none is new


@pytest.mark.slow
def test_a_rescore_run_twice_writes_nothing_more(twins: tuple[LeadStore, LeadStore], clock: FixedClock) -> None:
    _both(twins, clock, RECYCLE)
    before = snapshot(twins[0])
    done = _both(twins, clock, RECYCLE)  # the same model at the same time: nothing moved, nothing fires
    assert done.changed == 0 and not done.firings
    after = assert_same_stores(*twins)
    for name in ("stage_history", "outbox", "score_history"):
        assert len(after[name]) == len(before[name])


@pytest.mark.slow
def test_scores_before_the_window_that_need_look_ups_take_a_run_of_their_own(
    twins: tuple[LeadStore, LeadStore], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scores at T - within are one query in the scoring run's connection (`rescore._before_scores`);
    a filter that needs a look-up (a pattern DuckDB's RE2 refuses) takes a batch run in a connection
    of its own, and the run at T keeps its tables: the same firings and store as the pure path."""
    import leadscore.bulk.rescore as rescore

    # (the jump's window and threshold widened, so that it fires for some leads of these events)
    model = RECYCLE.replace("where: {path: {contains: pricing}}", "where: {path: {matches: '(?<n>pricing)'}}")
    model = model.replace("by: {gte: 15}, within: 2d", "by: {gte: 5}, within: 30d")
    assert model.count("(?<n>") == 1 and "within: 30d, destination" in model
    runs: list[bool] = []  # `split` of each batch run: True the run at T, False a run of the scores before
    real = rescore._batch_run

    def spy(*args: Any, **kwargs: Any) -> Any:
        runs.append(bool(args[6]))
        return real(*args, **kwargs)

    monkeypatch.setattr(rescore, "_batch_run", spy)
    done = _both(twins, clock, model)
    assert False in runs and True in runs
    assert done.fallback_leads == 0 and any(f.trigger_id == "jump" for f in done.firings)
    assert_same_stores(*twins)
    runs.clear()
    _both(twins, clock, RECYCLE)  # without the look-up: no run of their own
    assert runs and all(runs)
    assert_same_stores(*twins)


# -- generated models and data -----------------------------------------------------------------------
BASE = "format: 1\nname: base\nrules:\n  - {id: any, on: visit, points: 1}\n"


def _with_triggers(model: ScoringModel) -> ScoringModel:
    """The generated model with one trigger of each kind it can have, each with a destination."""
    found = [
        {"id": "hot", "on": "label_changed", "set": "band", "to": "hot", "destination": "chat"},
        {"id": "band", "on": "label_changed", "set": "band", "destination": "log"},
        {"id": "jump", "on": "score_changed", "by": {"gte": 10}, "within": "1d", "destination": "chat"},
    ]
    if model.lifecycle is not None:
        found += [
            {"id": "mql", "on": "stage_changed", "to": "mql", "destination": "crm"},
            {"id": "moves", "on": "stage_changed", "from": ["mql", "sql"], "destination": "log"},
        ]
    return model.model_copy(update={"triggers": [Trigger.model_validate(t) for t in found]})


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking two stores per example takes minutes
)
@given(model=models(), data=populations(max_leads=6), later=st.sampled_from([1, 40]))
def test_generated_models_and_data_store_the_same_in_bulk(
    tmp_path_factory: pytest.TempPathFactory, model: ScoringModel, data: tuple[list[Lead], list[Event]], later: int
) -> None:
    """SQLite: any model of the property tests' vocabulary, with triggers, applied then refreshed."""
    model = _with_triggers(model)
    tmp = tmp_path_factory.mktemp("gen")
    (tmp / "base.yaml").write_text(BASE, encoding="utf-8")
    clock = FixedClock(AT)
    pair = []
    for name in ("bulk", "pure"):
        s = open_store(f"sqlite:///{tmp / name}.db")
        s.upgrade()
        service = LeadService(s, model_path=tmp / "base.yaml", clock=clock)
        service.ingest_leads(data[0])
        service.ingest_events(data[1])
        pair.append(s)
    twins = (pair[0], pair[1])
    try:
        _both(twins, clock, model)
        assert_same_stores(*twins)
        clock.advance(days=later)
        _both(twins, clock, model, "refresh")
        assert_same_stores(*twins)
    finally:
        for s in pair:
            s.dispose()


def test_apply_on_an_empty_store_takes_the_bulk_path(store: LeadStore, clock: FixedClock) -> None:
    """No lead, no event: the export is empty (on PostgreSQL an empty CSV, which Arrow refuses to read)."""
    done = apply(store, Evaluator(parse_model(B2B)), lambda: int(clock.now.timestamp() * 1e6))
    assert isinstance(done, BatchRescored) and done.leads == 0 and not done.firings


def test_a_replay_that_disagrees_with_the_query_hands_the_lead_to_the_pure_scorer(
    twins: tuple[LeadStore, LeadStore], clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both replays fold the same conditions, so they agree; were they not to, the lead is rescored
    whole by the pure scorer in the same transaction instead of stored with a history that is wrong."""
    from leadscore.bulk import lifecycle_history as store_history

    real = store_history.walk_part
    wrong: list[str] = []

    def walk_part(tables: Any, inits: Any, starts: Any, lead_of: Any, cols: Any) -> Any:
        got = real(tables, inits, starts, lead_of, cols)
        if not wrong and got is not None and got.stage:
            wrong.append(got.stage[0])
            got.stage[0] = "no-such-stage"
        return got

    monkeypatch.setattr(store_history, "walk_part", walk_part)
    done = _both(twins, clock, RECYCLE.replace("  - {id: cooled", "  # - {id: cooled"))
    assert wrong and done.history_leads > 0
    assert_same_stores(*twins)


QUIET = """format: 1
name: quiet
rules:
  - {id: no-opens, points: 71, when: {none: [open], within: 1w}}
  - {id: clicks, points: 5, on: [click]}
lifecycle:
  stages: [lead, mql, sql]
  transitions:
    - {to: mql, when: {score: total, gte: 10}}
    - {to: sql, on: [demo]}
triggers:
  - {id: mql, on: stage_changed, to: mql, destination: crm}
"""


def test_a_lead_with_no_event_by_t_moves_and_fires_at_t_in_bulk(tmp_path: Path) -> None:
    """Found by the property test above: a lead with no event (or none by T) has no event time to
    replay at, but its automatic transitions hold at T (a `none:` rule lifts it to MQL), and its
    MQL trigger fires there, in bulk as through the pure scorer."""
    clock = FixedClock(AT)
    leads = [Lead("quiet"), Lead("later"), Lead("busy")]
    events = [
        Event("later", "demo", AT + timedelta(days=30)),
        Event("busy", "open", AT - timedelta(days=2)),
        Event("busy", "click", AT - timedelta(days=1)),
    ]
    pair = _sqlite_twins(tmp_path, clock, leads, events)
    try:
        done = _both(pair, clock, QUIET)
        assert {f.lead_id for f in done.firings} == {"quiet", "later"}  # busy opened 2 days ago: 5 points
        assert_same_stores(pair[0], pair[1])
    finally:
        for s in pair:
            s.dispose()


JUMP = (
    BASE.replace("name: base", "name: jump").replace("points: 1}", "points: 10}")
    + "  - {id: nudge, on: nudge, points: 9.5}\n"
    + "triggers:\n  - {id: jump, on: score_changed, by: {gte: 10}, within: 1d, destination: chat}\n"
)


def _sqlite_twins(
    tmp_path: Path, clock: FixedClock, leads: list[Lead], events: list[Event]
) -> tuple[LeadStore, LeadStore]:
    """Two SQLite files with the same leads and events, scored by BASE (bulk first, then pure)."""
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    pair = []
    for name in ("bulk", "pure"):
        s = open_store(f"sqlite:///{tmp_path / name}.db")
        s.upgrade()
        service = LeadService(s, model_path=tmp_path / "base.yaml", clock=clock)
        service.ingest_leads(leads)
        service.ingest_events(events)
        pair.append(s)
    return pair[0], pair[1]


def test_a_score_jump_fires_in_bulk_at_its_exact_threshold_and_window_edge(tmp_path: Path) -> None:
    """`score_changed` against the score at T - 1d, at its edges: an event exactly at T - 1d counts at
    both times (no change), one a microsecond later only at T (a rise of exactly `gte: 10`: fires),
    a rise of 9.5 does not; in bulk as through the pure scorer."""
    clock = FixedClock(AT)
    day = timedelta(days=1)
    leads = [Lead("edge"), Lead("inside"), Lead("short"), Lead("none")]
    events = [
        Event("edge", "visit", AT - day),
        Event("inside", "visit", AT - day + timedelta(microseconds=1)),
        Event("short", "visit", AT - 2 * day),
        Event("short", "nudge", AT - timedelta(hours=1)),
    ]
    pair = _sqlite_twins(tmp_path, clock, leads, events)
    try:
        done = _both(pair, clock, JUMP)
        assert {f.lead_id for f in done.firings} == {"inside"}
        assert_same_stores(*pair)
    finally:
        for s in pair:
            s.dispose()


# QUIET's clicks, lifecycle and MQL trigger, with a label and a score jump to fire too
EDGE = (
    QUIET.replace("name: quiet", "name: edge")
    .replace("  - {id: no-opens, points: 71, when: {none: [open], within: 1w}}\n", "")
    .replace("lifecycle:", "labels:\n  heat: [{label: hot, when: {score: total, gte: 10}}, {label: cold}]\nlifecycle:")
    + "  - {id: hot, on: label_changed, set: heat, to: hot, destination: chat}\n"
    + "  - {id: jump, on: score_changed, by: {gte: 10}, within: 1d, destination: chat}\n"
)


def test_moves_and_firings_at_their_exact_thresholds_and_last_events_in_bulk(tmp_path: Path) -> None:
    """The history pass at its edges, in bulk as through the pure scorer: a score reaching the MQL
    threshold exactly at a lead's last event (and a jump of exactly `by` within the window), an event
    transition at the last event, a lead with no events, one just below the threshold, one whose
    jump is older than the window, and stored stages of the same model that differ from the new
    ones (the model applied first moves at 15 points, the one applied next at 10)."""
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    clock = FixedClock(AT)
    hours = lambda n: AT - timedelta(hours=n)  # noqa: E731
    pair = []
    for name in ("bulk", "pure"):
        s = open_store(f"sqlite:///{tmp_path / name}.db")
        s.upgrade()
        service = LeadService(s, model_path=tmp_path / "base.yaml", clock=clock)
        service.ingest_leads([Lead(i) for i in ("exact", "below", "none", "demo-last", "old")])
        service.ingest_events(
            [
                Event("exact", "click", hours(2), {}, "x1"),
                Event("exact", "click", hours(1), {}, "x2"),
                Event("below", "click", hours(1), {}, "b1"),
                Event("demo-last", "click", hours(5), {}, "d1"),
                Event("demo-last", "click", hours(4), {}, "d2"),
                Event("demo-last", "click", hours(3), {}, "d3"),
                Event("demo-last", "demo", hours(1), {}, "d4"),
                Event("old", "click", hours(72), {}, "o1"),
                Event("old", "click", hours(71), {}, "o2"),
            ]
        )
        pair.append(s)
    try:
        at_15 = EDGE.replace("gte: 10}}\n    - {to: sql", "gte: 15}}\n    - {to: sql")
        first = _both((pair[0], pair[1]), clock, at_15)
        assert {f.lead_id for f in first.firings if f.trigger_id == "mql"} == {"demo-last"}
        done = _both((pair[0], pair[1]), clock, EDGE)
        fired = {(f.trigger_id, f.lead_id) for f in done.firings}
        assert ("mql", "exact") in fired and ("mql", "old") in fired  # stored `lead`, now `mql`
        assert ("jump", "exact") in fired  # 0 -> 10 within the day: exactly `by` (queued once: same key)
        assert not {lead for _, lead in fired} & {"below", "none"}
        assert_same_stores(pair[0], pair[1])
        with pair[0].read() as conn:
            stages = dict(conn.execute(sa.select(results.c.lead_id, results.c.stage)).all())
        assert stages == {"exact": "mql", "below": "lead", "none": "lead", "demo-last": "sql", "old": "mql"}
    finally:
        for s in pair:
            s.dispose()


# A case the property test above found: a decaying rule with a window (`within: 1w`) whose only
# matching event is older than the window. The pure horizon kept such a lead decaying forever (back
# every day) while the bulk export, which reads only events inside the window, saw none; now both
# end the decay when the event leaves the window.
NEXT_CHANGE_CASE = Path(__file__).parent / "data" / "next_change_case.json"


def test_next_change_after_apply_is_the_pure_paths(tmp_path: Path) -> None:
    import json
    from datetime import datetime

    case = json.loads(NEXT_CHANGE_CASE.read_text(encoding="utf-8"))
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    clock = FixedClock(AT)
    pair = []
    for name in ("bulk", "pure"):
        s = open_store(f"sqlite:///{tmp_path / name}.db")
        s.upgrade()
        service = LeadService(s, model_path=tmp_path / "base.yaml", clock=clock)
        service.ingest_leads([Lead(i, a) for i, a in case["leads"]])
        service.ingest_events(
            [Event(lead, typ, datetime.fromisoformat(t + "+00:00"), p, i) for lead, typ, t, p, i in case["events"]]
        )
        pair.append(s)
    try:
        _both((pair[0], pair[1]), clock, ScoringModel.model_validate(case["model"]))
        assert_same_stores(pair[0], pair[1])
    finally:
        for s in pair:
            s.dispose()


def test_the_history_pass_reads_stored_results_as_result_of_but_what_it_does_not_read(
    store: LeadStore, tmp_path: Path, clock: FixedClock
) -> None:
    """`stored_results.stored_results` gives `result_of` of each stored row without its dimensions,
    playbook and breakdown (the stage moves and the trigger tests against the previous result read
    none of them), and the row's evaluation time and stage as `_stage_moves` reads them."""
    import dataclasses

    from leadscore.bulk.stored_results import stored_results as _stored
    from leadscore.store.codec import result_of
    from leadscore.store.results_repo import load_result_rows

    (tmp_path / "model.yaml").write_text(MODEL, encoding="utf-8")
    service = LeadService(store, model_path=tmp_path / "model.yaml", clock=clock)
    service.ingest_leads(_leads(5, 12))
    service.ingest_events(_events(5, 12, 150, with_stages=True))
    _ = apply(store, Evaluator(parse_model(RECYCLE)), lambda: int(clock.now.timestamp() * 1_000_000))
    with store.read() as conn:
        ids = [str(r[0]) for r in conn.execute(sa.select(results.c.lead_id))] + ["no-such-lead"]
        whole, light = load_result_rows(conn, ids), _stored(conn, ids)
    assert len(whole) == 12 and any(row["breakdown"] for row in whole.values())
    assert any(len(row["stage_history"]) > 1 for row in whole.values())
    assert set(light) == set(whole)
    for lead, row in whole.items():
        full = result_of(row)
        assert light[lead].result == dataclasses.replace(full, dimensions={}, playbook=None, breakdown=())
        assert light[lead].result.labels == full.labels and light[lead].result.stage_history == full.stage_history
        assert light[lead].row == {"evaluated_at": row["evaluated_at"], "stage": row["stage"]}
        assert light[lead].evaluated_at == row["evaluated_at"]
