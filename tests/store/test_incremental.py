"""Incremental rescoring of a lead's new latest events (leadscore.store.pipeline.replay_start).

The lifecycle replay of a lead whose new events all come after its stored ones resumes from the
stored result's stage history instead of replaying the whole timeline; with late events, after the
stored events earlier than every new one. The oracle is the full
replay: the same result (pure, on generated models and timelines cut anywhere), and on a store the
same rows (results, score and stage history, trigger outbox) as a store that replays in full.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.app.service import LeadService
from leadscore.domain import Event, Lead
from leadscore.domain.events import dedupe_events
from leadscore.domain.timeutil import to_micros
from leadscore.engine import score
from leadscore.engine.errors import ScoringDataError
from leadscore.engine.lifecycle_replay import ReplayStart
from leadscore.engine.timeline import Timeline
from leadscore.io import read_events, read_leads
from leadscore.model import ModelError, validate_model
from leadscore.store import open_store
from leadscore.store.pipeline import Evaluator, Resume, replay_start
from leadscore.store.tables import result_basis
from tests.store.conftest import BACKENDS, fresh_database_url
from tests.store.helpers import mismatches, written_rows
from tests.support import strategies as support
from tests.support.strategies import edge_busy_data, edge_lifecycle_models

B2B = Path(__file__).resolve().parents[2] / "examples" / "b2b-saas"
AT_US = to_micros(support.AT)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _same_as_full(
    model_data: Any, leads: list[Lead], events: list[Event], data: st.DataObject, late: bool = False, tied: bool = False
) -> None:
    """Cut each lead's timeline at a drawn instant: the result at AT from the result of the events up
    to the cut (computed at a drawn time between the cut and AT) equals the full replay's. `late`:
    the new events are a drawn part of the lead's events instead, some earlier than old ones (late
    arrivals), appended to the log after the old ones. `tied`: the cut is a drawn place in the
    timeline's order, so that new events may share their instant with old ones."""
    try:
        model = validate_model(model_data) if isinstance(model_data, dict) else model_data
    except ModelError:
        return
    evaluator = Evaluator(model, fire_triggers=False)
    for lead in leads:
        own = dedupe_events([e for e in events if e.lead_id == lead.id])
        if tied:  # every event its own id, so that no lead is left out below
            own = [replace(e, id=f"t{i}") for i, e in enumerate(own)]
        if len({e.id for e in own}) != len(own):
            continue  # two events with one id: the store keeps one event per id and lead
        times = sorted({e.ts for e in own})
        if tied:
            ordered = Timeline(own).events  # time, then input order: the order a bulk load appends in
            if len(ordered) < 2 or ordered[-1].ts > AT_US:
                continue
            at = data.draw(st.integers(1, len(ordered) - 1), label="cut")
            old, new = ordered[:at], ordered[at:]
            cut = old[-1].ts
        elif late:
            if len(own) < 2:
                continue
            picked = data.draw(st.sets(st.integers(0, len(own) - 1), min_size=1, max_size=len(own) - 1), label="new")
            old = [e for i, e in enumerate(own) if i not in picked]
            new = [e for i, e in enumerate(own) if i in picked]
            cut = max(e.ts for e in old)
            if cut > AT_US:
                continue
        else:
            cuts = [t for t in times[:-1] if t <= AT_US]  # the earlier result was computed by now
            if not cuts:
                continue
            cut = data.draw(st.sampled_from(cuts), label="cut")
            old = [e for e in own if e.ts <= cut]
            new = [e for e in own if e.ts > cut]
        log = old + new  # the store's order: the new events appended after the old ones
        # the earlier evaluation: at the cut, at another event, a window length after the cut (a
        # window emptied: automatic moves at that time alone), or now
        gaps = [1, 86_400, 86_401, 30 * 86_400, 365 * 86_400]
        later = sorted({t for t in (cut, *times, *(cut + g * 1_000_000 for g in gaps), AT_US) if cut <= t <= AT_US})
        prev_at = data.draw(st.sampled_from(later), label="previous evaluation")
        try:
            prev, _, _ = evaluator.evaluate(lead, old, prev_at)
            expected = evaluator.evaluate(lead, log, AT_US)
        except ScoringDataError:
            continue
        resume = Resume(prev, len(old), frozenset(e.id for e in new))
        start = replay_start(evaluator.scorer.model_version, Timeline(log, until=AT_US), log, AT_US, resume)
        if prev.stage is not None and any(e.ts < min(n.ts for n in new) for e in old) and not tied:
            assert start is not None, "the replay did not resume where it could"
        got = evaluator.evaluate(lead, log, AT_US, resume)
        assert got[0] == expected[0]
        assert got[1] == expected[1]


@SETTINGS
@given(edge_lifecycle_models(), edge_busy_data(), st.data())
def test_a_resumed_replay_equals_the_full_replay_on_window_edges(model_data: Any, sample: Any, data: Any) -> None:
    _same_as_full(model_data, *sample, data)


@SETTINGS
@given(support.models(), support.leads("L0"), support.events_for("L0", max_events=40), st.data())
def test_a_resumed_replay_equals_the_full_replay_on_the_shared_strategies(
    model: Any, lead: Lead, events: Any, data: Any
) -> None:
    _same_as_full(model, [lead], events, data)


@SETTINGS
@given(edge_lifecycle_models(), edge_busy_data(), st.data())
def test_a_replay_resumed_before_late_events_equals_the_full_replay_on_window_edges(
    model_data: Any, sample: Any, data: Any
) -> None:
    _same_as_full(model_data, *sample, data, late=True)


@SETTINGS
@given(support.models(), support.leads("L0"), support.events_for("L0", max_events=40), st.data())
def test_a_replay_resumed_before_late_events_equals_the_full_replay_on_the_shared_strategies(
    model: Any, lead: Lead, events: Any, data: Any
) -> None:
    _same_as_full(model, [lead], events, data, late=True)


@st.composite
def tie_models(draw: Any) -> dict[str, Any]:
    """A promotion on the score and an event transition allowed from the promoted stage only: the
    shape where the order of the moves at one instant shows (see the test below)."""
    threshold = draw(st.sampled_from([20, 40, 60]))
    return {
        "format": 1,
        "name": "ties",
        "rules": [
            {"id": "v", "on": "view", "points": draw(st.sampled_from([10, 25]))},
            {"id": "b", "on": "buy", "points": draw(st.sampled_from([20, 60])), "within": "1d"},
        ],
        "lifecycle": {
            "stages": ["lead", "mql", "sql"],
            "exits": ["lost", "recycled"],
            "transitions": [
                {"to": "mql", "when": {"score": "total", "gte": threshold}},
                {"to": "sql", "on": "accepted", "from": ["mql"]},
                {"to": "lost", "on": "lost"},
                {"to": "lead", "from": ["lost"], "when": {"score": "total", "lt": threshold}},
            ],
        },
    }


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(edge_lifecycle_models(), tie_models()),
    st.one_of(edge_busy_data(instants=1), edge_busy_data(instants=2)),
    st.data(),
)
def test_a_replay_resumed_with_new_events_tied_in_time_equals_the_full_replay(
    model_data: Any, sample: Any, data: Any
) -> None:
    """New events at the instant of stored ones (a bulk load's one timestamp): the replay resumes
    before that instant, never after the stored events that share it."""
    _same_as_full(model_data, *sample, data, tied=True)


def test_stored_moves_at_the_instant_of_a_new_event_are_replayed() -> None:
    """Why a new event that sorts after every stored event at its instant cannot resume after them:
    the automatic transitions after each event read the score at that event's time, which includes
    every event at that instant (MODEL-FORMAT.md), the new one too. Here the stored page view and
    the sales acceptance at one instant left the lead at `lead` (acceptance only from mql); with a
    new demo request at the same instant the page view promotes it to mql first, and the acceptance
    then moves it to sql. A replay resumed after the stored events would say mql."""
    model = validate_model(
        {
            "format": 1,
            "name": "tie",
            "rules": [{"id": "v", "on": "view", "points": 10}, {"id": "d", "on": "demo", "points": 60}],
            "lifecycle": {
                "stages": ["lead", "mql", "sql"],
                "transitions": [
                    {"to": "mql", "when": {"score": "total", "gte": 60}},
                    {"to": "sql", "on": "accepted", "from": ["mql"]},
                ],
            },
        }
    )
    evaluator = Evaluator(model, fire_triggers=False)
    lead, t = Lead("L1", {}), support.AT - timedelta(days=1)
    old = [Event("L1", "view", t, {}, "e0"), Event("L1", "accepted", t, {}, "e1")]
    log = [*old, Event("L1", "demo", t, {}, "e2")]
    prev, _, _ = evaluator.evaluate(lead, old, AT_US)
    assert prev.stage == "lead"
    expected = score(model, lead, log, support.AT)
    assert expected.stage == "sql"
    timeline = Timeline(log, until=AT_US)
    resume = Resume(prev, 2, frozenset({"e2"}))
    assert replay_start(evaluator.scorer.model_version, timeline, log, AT_US, resume) is None
    assert evaluator.evaluate(lead, log, AT_US, resume)[0] == expected
    after_stored = ReplayStart.after(prev.stage_history, 2, to_micros(t))
    assert evaluator.scorer.score_timeline(lead, timeline, AT_US, after_stored).stage == "mql"


def test_a_stored_result_that_missed_an_event_is_not_resumed_from() -> None:
    """The basis: a result computed from fewer events than are stored before the new one (an event
    stored without rescoring) is no start, nor one from another model, nor with an older new event."""
    model = validate_model(
        {
            "format": 1,
            "name": "m",
            "rules": [{"id": "v", "on": "view", "points": 10}],
            "lifecycle": {
                "stages": ["lead", "mql"],
                "transitions": [{"to": "mql", "when": {"score": "total", "gte": 20}}],
            },
        }
    )
    evaluator = Evaluator(model, fire_triggers=False)
    lead = Lead("L1", {})
    base = support.AT - timedelta(days=3)
    events = [Event("L1", "view", base + timedelta(hours=h), {}, f"e{h}") for h in range(4)]
    prev, _, _ = evaluator.evaluate(lead, events[:2], events[1].ts)
    three, four = Timeline(events[:3], until=AT_US), Timeline(events, until=AT_US)
    version = evaluator.scorer.model_version
    assert replay_start(version, three, events[:3], AT_US, Resume(prev, 2, frozenset({"e2"}))) is not None
    # e0..e2 stored and e3 new, but the result saw two events: e2 came in without a rescoring
    assert replay_start(version, four, events, AT_US, Resume(prev, 2, frozenset({"e3"}))) is None
    assert replay_start("another", three, events[:3], AT_US, Resume(prev, 2, frozenset({"e2"}))) is None
    early = [events[0], events[1], Event("L1", "view", base - timedelta(hours=1), {}, "x")]
    assert replay_start(version, Timeline(early, until=AT_US), early, AT_US, Resume(prev, 2, frozenset({"x"}))) is None


def test_moves_made_at_the_earlier_evaluation_time_are_not_carried_over() -> None:
    """A move made by the final automatic step at the earlier evaluation time (a window emptied
    after the last event) is no step of a replay with a later event: the resumed replay drops it."""
    quiet = {"not": {"count": "view", "within": "1d", "gte": 1}}
    model = validate_model(
        {
            "format": 1,
            "name": "m",
            "rules": [{"id": "v", "on": "view", "points": 10}],
            "lifecycle": {"stages": ["lead", "mql"], "transitions": [{"to": "mql", "when": quiet}]},
        }
    )
    evaluator = Evaluator(model, fire_triggers=False)
    lead = Lead("L1", {})
    t0 = support.AT - timedelta(days=3)
    first = Event("L1", "view", t0, {}, "e0")
    prev, _, _ = evaluator.evaluate(lead, [first], to_micros(t0 + timedelta(days=2)))
    assert prev.stage == "mql"  # moved at the evaluation time, after the last event
    for later in (timedelta(hours=1), timedelta(days=2, hours=12)):
        events = [first, Event("L1", "view", t0 + later, {}, "e1")]
        resume = Resume(prev, 1, frozenset({"e1"}))
        expected = evaluator.evaluate(lead, events, AT_US)
        assert replay_start(evaluator.scorer.model_version, Timeline(events, until=AT_US), events, AT_US, resume)
        assert evaluator.evaluate(lead, events, AT_US, resume)[0] == expected[0]


@pytest.mark.parametrize("kind", BACKENDS)
def test_events_one_at_a_time_write_what_a_full_replay_writes(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The example B2B model (lifecycle, decay, windows, triggers): its events in time order, one per
    transaction, the clock following them, on a store that resumes, on one whose basis is wiped
    after every event (so it replays in full), and through the deferred intake and its drain (which
    resumes too); row for row the same, and equal to the pure scorer."""
    events = sorted(read_events(B2B / "data" / "events.csv"), key=lambda e: e.ts)
    leads = list(read_leads(B2B / "data" / "leads.csv"))
    clock = [events[0].timestamp]
    services = []
    for name in ("resumed", "full", "drained"):
        folder = tmp_path / name
        folder.mkdir()
        store = open_store(fresh_database_url(kind, folder, request, migrated=True))
        service = LeadService(store, model_path=B2B / "model.yaml", clock=lambda: clock[0])
        service.upgrade()
        service.ingest_leads(leads)
        services.append(service)
    resumed, full, drained = services
    rnd = random.Random(7)
    for event in events[:150]:
        clock[0] = max(clock[0], event.timestamp) + timedelta(seconds=rnd.choice([0, 1, 3600, 3 * 86_400]))
        resumed.ingest_events([event])
        full.ingest_events([event])
        with full.store.write() as conn:
            conn.execute(result_basis.delete())
        drained.ingest_events([event], defer=True)  # the API's intake, then its rescoring process
        drained.drain_pending()
    with resumed.store.read() as conn:
        seen = conn.execute(sa.select(sa.func.count()).select_from(result_basis)).scalar()
    assert seen, "no result recorded its basis"
    assert written_rows(resumed.store) == written_rows(full.store)
    assert written_rows(drained.store) == written_rows(full.store)
    assert mismatches(resumed.store, resumed.model) == []
    for service in services:
        service.close()


def test_an_event_after_a_deferred_one_replays_in_full(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A deferred intake stores an event without rescoring: the next event, scored at once, must not
    resume from the result that missed it (the count of events says so)."""
    events = sorted(read_events(B2B / "data" / "events.csv"), key=lambda e: e.ts)
    lead = events[-1].lead_id
    own = [e for e in events if e.lead_id == lead]
    store = open_store(fresh_database_url("sqlite", tmp_path, request, migrated=True))
    clock = [own[-1].timestamp + timedelta(days=1)]
    service = LeadService(store, model_path=B2B / "model.yaml", clock=lambda: clock[0])
    service.upgrade()
    service.ingest_events(own[:-2])
    service.ingest_events([own[-2]], defer=True)  # stored, its lead queued, not rescored
    service.ingest_events([own[-1]])
    assert mismatches(store, service.model) == []
    with store.read() as conn:
        basis = sa.select(result_basis.c.events_seen).where(result_basis.c.lead_id == lead)
        assert conn.execute(basis).scalar() == len(own)
    service.close()


def test_a_lead_that_took_in_a_merge_is_replayed_in_full(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """An identify merges an anonymous visitor's earlier events into the lead: they keep their older
    log positions, so the lead's last events by position are not the ones its result missed. The
    merge clears the basis, and the drain replays the lead in full."""
    store = open_store(fresh_database_url("sqlite", tmp_path, request, migrated=True))
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    clock = [t0 + timedelta(days=20)]
    service = LeadService(store, model_path=B2B / "model.yaml", clock=lambda: clock[0])
    service.upgrade()
    pricing = {"path": "/pricing", "page_type": "pricing"}
    anon = [Event("anon1", "page_view", t0 + timedelta(hours=h), pricing, f"a{h}") for h in range(2)]
    anon.append(Event("anon1", "email_bounce", t0 + timedelta(hours=2), {}, "a2"))  # disqualifies, early on
    own = [Event("u1", "page_view", t0 + timedelta(days=1, hours=h), pricing, f"u{h}") for h in range(6)]
    service.ingest_events(anon)
    for event in own:
        service.ingest_events([event])
    identify = Event("u1", "identify", t0 + timedelta(days=2), {"anonymous_id": "anon1"}, "id1")
    service.ingest_events([identify], defer=True)
    service.drain_pending()
    assert mismatches(store, service.model) == []
    stored = service.result("u1")
    assert stored is not None
    events = [*anon, *own, identify]
    expected = score(service.model, Lead("u1", {}), [replace(e, lead_id="u1") for e in events], stored.at)
    assert stored.stage_history == expected.stage_history  # disqualified at the bounce, not later
    with store.read() as conn:
        basis = sa.select(result_basis.c.events_seen).where(result_basis.c.lead_id == "u1")
        assert conn.execute(basis).scalar() == 10
    service.close()
