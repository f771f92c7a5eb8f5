"""Trigger detection: which transitions fire, and keys that are the same whoever detects them."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.domain.result import Result
from leadscore.domain.timeutil import to_micros
from leadscore.engine import score
from leadscore.model import ScoringModel, parse_model
from leadscore.triggers.firings import TriggerFiring, detect_triggers, idempotency_key, scores_before

MODEL = """
format: 1
name: trig-test
rules:
  - {id: visit, on: page_view, points: 10}
  - {id: demo, on: demo_request, points: 40}
labels:
  temperature:
    - {label: hot, when: {score: total, gte: 50}}
    - {label: warm, when: {score: total, gte: 20}}
    - {label: cold}
  fit:
    - {label: big, when: {attribute: employees, gte: 100}}
lifecycle:
  stages: [lead, mql, sql, customer]
  exits: [recycled]
  transitions:
    - {to: mql, when: {score: total, gte: 30}}
    - {to: sql, when: {score: total, gte: 60}}
    - {to: sql, on: sales_accepted}
    - {to: recycled, on: sales_rejected}
    - {to: customer, on: deal_won}
triggers:
  - {id: mql-to-crm, on: stage_changed, to: mql, destination: crm}
  - {id: any-stage, on: stage_changed, destination: crm}
  - {id: sql-from-mql, on: stage_changed, from: mql, to: sql, destination: crm}
  - {id: hot, on: label_changed, set: temperature, to: hot, destination: sales-chat}
  - {id: temp-any, on: label_changed, set: temperature}
  - {id: fit-any, on: label_changed, set: fit}
  - {id: big-jump, on: score_changed, by: {gte: 30}, within: 1d, destination: sales-chat}
"""


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    return parse_model(MODEL, "trig-test.yaml")


def ev(kind: str, ts: str, **props: object) -> Event:
    return Event.of("l1", kind, ts, **props)


def run(model: ScoringModel, lead: Lead, events: list[Event], at: str) -> Result:
    return score(model, lead, events, at)


def detect(
    model: ScoringModel, previous: Result | None, current: Result, lead: Lead, events: list[Event]
) -> list[TriggerFiring]:
    return detect_triggers(model, previous, current, score_before_window=scores_before(model, lead, events, current))


def fired(firings: list[TriggerFiring], trigger: str) -> list[TriggerFiring]:
    return [f for f in firings if f.trigger_id == trigger]


LEAD = Lead("l1")
DAY1 = [ev("page_view", "2026-01-01T10:00:00Z")]


def test_stage_change_fires_the_trigger_for_its_target_only(model: ScoringModel) -> None:
    before = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    events = [*DAY1, ev("page_view", "2026-01-02T09:00:00Z"), ev("page_view", "2026-01-02T10:00:00Z")]
    after = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    assert (before.stage, after.stage) == ("lead", "mql")

    firings = detect(model, before, after, LEAD, events)
    [mql] = fired(firings, "mql-to-crm")
    assert (mql.kind, mql.from_value, mql.to_value) == ("stage_changed", "lead", "mql")
    assert mql.at == datetime(2026, 1, 2, 10, tzinfo=UTC)  # when the change happened, not when it was seen
    assert mql.destination == "crm"
    assert len(fired(firings, "any-stage")) == 1
    assert fired(firings, "sql-from-mql") == []


def test_several_steps_in_one_evaluation_fire_each_step_once(model: ScoringModel) -> None:
    before = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    events = [*DAY1, ev("demo_request", "2026-01-02T10:00:00Z"), ev("page_view", "2026-01-02T11:00:00Z")]
    after = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    assert after.stage == "sql"

    firings = detect(model, before, after, LEAD, events)
    assert [(f.from_value, f.to_value) for f in fired(firings, "any-stage")] == [("lead", "mql"), ("mql", "sql")]
    assert len(fired(firings, "mql-to-crm")) == 1
    [sql] = fired(firings, "sql-from-mql")
    assert sql.at == datetime(2026, 1, 2, 11, tzinfo=UTC)
    assert [f.at for f in firings] == sorted(f.at for f in firings)


def test_from_restricts_the_previous_stage(model: ScoringModel) -> None:
    before = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    events = [*DAY1, ev("sales_accepted", "2026-01-02T10:00:00Z")]
    after = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    assert after.stage == "sql"

    firings = detect(model, before, after, LEAD, events)
    assert fired(firings, "sql-from-mql") == []  # it came from `lead`, not `mql`
    [change] = fired(firings, "any-stage")
    assert (change.from_value, change.to_value) == ("lead", "sql")
    assert change.payload["data"]["change"]["cause"] == "event:sales_accepted"


def test_a_new_lead_fires_only_if_it_moved(model: ScoringModel) -> None:
    quiet = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    stage_triggers = {"mql-to-crm", "any-stage", "sql-from-mql"}
    assert not [f for f in detect(model, None, quiet, LEAD, DAY1) if f.trigger_id in stage_triggers]

    placed = Lead("l1", {"stage": "mql"})  # enters at mql: that is where it starts, not a move
    started = run(model, placed, DAY1, "2026-01-01T12:00:00Z")
    assert started.stage == "mql"
    assert not [f for f in detect(model, None, started, placed, DAY1) if f.trigger_id in stage_triggers]

    events = [ev("demo_request", "2026-01-01T10:00:00Z")]
    moved = run(model, LEAD, events, "2026-01-01T12:00:00Z")
    assert [(f.from_value, f.to_value) for f in fired(detect(model, None, moved, LEAD, events), "mql-to-crm")] == [
        ("lead", "mql")
    ]


def test_same_transition_gets_the_same_key_whoever_detects_it(model: ScoringModel) -> None:
    events = [*DAY1, ev("demo_request", "2026-01-02T10:00:00Z")]
    previous_a = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    previous_b = run(model, LEAD, DAY1, "2026-01-01T18:00:00Z")  # another engine's last evaluation
    first = detect(model, previous_a, run(model, LEAD, events, "2026-01-02T12:00:00Z"), LEAD, events)
    retry = detect(model, previous_a, run(model, LEAD, events, "2026-01-02T12:00:00Z"), LEAD, events)
    later = detect(model, previous_b, run(model, LEAD, events, "2026-01-02T20:00:00Z"), LEAD, events)

    assert [f.key for f in first] == [f.key for f in retry]
    assert [f.key for f in fired(first, "mql-to-crm")] == [f.key for f in fired(later, "mql-to-crm")]
    assert len({f.key for f in first}) == len(first)
    for f in first:
        assert f.key.startswith("trg_") and "." not in f.key


@pytest.mark.parametrize(
    ("parts", "key"),
    [
        (("stage_changed", "b2b-saas", "mql-to-crm", "lead-1", "mql", 1), "trg_234aa28435b87023643edac0d3c433f7"),
        (
            ("label_changed", "m ü", "t", "é\u2028x", "tier", None, "hot", datetime(2026, 1, 2, 3, 4, 5, 6, UTC)),
            "trg_31e9d6d668f0877773c169cf09cad239",
        ),
        (("score_changed", "m", "t", "l", 1.5e-17, -0.0, 12345678901234567890), "trg_4d191ab6494e164fe125673f942020e1"),
    ],
)
def test_keys_stay_what_stored_outboxes_hold(parts: tuple[object, ...], key: str) -> None:
    """A firing's key is how a retry, a later run or another engine finds it already queued: the text
    hashed (non-ASCII, None, floats, times as microseconds) must never change, however it is made."""
    assert idempotency_key(*parts) == key


def test_no_new_transition_no_firing(model: ScoringModel) -> None:
    events = [*DAY1, ev("demo_request", "2026-01-02T10:00:00Z")]
    first = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    again = run(model, LEAD, events, "2026-01-02T13:00:00Z")
    assert [f.trigger_id for f in detect(model, first, again, LEAD, events)] == ["big-jump"]


def test_a_backdated_event_does_not_fire_a_known_change_again(model: ScoringModel) -> None:
    events = [*DAY1, ev("demo_request", "2026-01-02T10:00:00Z")]
    before = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    assert before.stage == "mql"
    late = [*events, ev("page_view", "2026-01-01T11:00:00Z")]  # arrives now, happened yesterday
    after = run(model, LEAD, late, "2026-01-02T13:00:00Z")
    assert after.stage == "sql"

    firings = detect(model, before, after, LEAD, late)
    assert fired(firings, "mql-to-crm") == []
    assert [(f.from_value, f.to_value) for f in fired(firings, "any-stage")] == [("mql", "sql")]


def test_previous_without_history_counts_changes_after_its_time(model: ScoringModel) -> None:
    before = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    events = [*DAY1, ev("demo_request", "2026-01-02T10:00:00Z"), ev("page_view", "2026-01-02T11:00:00Z")]
    after = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    with_history = detect(model, before, after, LEAD, events)
    without = detect(model, replace(before, stage_history=()), after, LEAD, events)
    assert [f.key for f in without] == [f.key for f in with_history]


def test_a_stage_set_by_attribute_is_reported_once(model: ScoringModel) -> None:
    before = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    edited = Lead("l1", {"stage": "mql"})
    after = run(model, edited, DAY1, "2026-01-01T13:00:00Z")
    firings = detect(model, before, after, edited, DAY1)
    [change] = fired(firings, "mql-to-crm")
    assert (change.from_value, change.to_value) == ("lead", "mql")
    assert change.payload["data"]["change"]["cause"] == "reconciled"
    assert not fired(detect(model, after, run(model, edited, DAY1, "2026-01-01T14:00:00Z"), edited, DAY1), "any-stage")


def test_label_changes(model: ScoringModel) -> None:
    cold = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    warm_events = [*DAY1, ev("page_view", "2026-01-01T13:00:00Z")]
    warm = run(model, LEAD, warm_events, "2026-01-01T14:00:00Z")
    hot_events = [*warm_events, *(ev("page_view", f"2026-01-01T15:{m}:00Z") for m in (10, 20, 30))]
    hot = run(model, LEAD, hot_events, "2026-01-01T16:00:00Z")
    assert [r.labels["temperature"] for r in (cold, warm, hot)] == ["cold", "warm", "hot"]

    to_warm = detect(model, cold, warm, LEAD, warm_events)
    assert fired(to_warm, "hot") == []
    [any_change] = fired(to_warm, "temp-any")
    assert (any_change.from_value, any_change.to_value, any_change.at) == ("cold", "warm", warm.at)
    assert any_change.destination is None

    to_hot = detect(model, warm, hot, LEAD, hot_events)
    [became_hot] = fired(to_hot, "hot")
    assert (became_hot.from_value, became_hot.to_value) == ("warm", "hot")
    retry = detect(model, warm, run(model, LEAD, hot_events, "2026-01-01T16:00:00Z"), LEAD, hot_events)
    assert fired(retry, "hot")[0].key == became_hot.key
    assert not fired(detect(model, hot, run(model, LEAD, hot_events, "2026-01-01T17:00:00Z"), LEAD, hot_events), "hot")


def test_first_label_of_a_new_lead_and_a_label_that_disappears(model: ScoringModel) -> None:
    big = Lead("l1", {"employees": 500})
    first = run(model, big, DAY1, "2026-01-01T12:00:00Z")
    [appeared] = fired(detect(model, None, first, big, DAY1), "fit-any")
    assert (appeared.from_value, appeared.to_value) == (None, "big")
    [cold] = fired(detect(model, None, first, big, DAY1), "temp-any")
    assert (cold.from_value, cold.to_value) == (None, "cold")

    small = Lead("l1", {"employees": 5})
    gone = run(model, small, DAY1, "2026-01-01T13:00:00Z")
    [vanished] = fired(detect(model, first, gone, small, DAY1), "fit-any")
    assert (vanished.from_value, vanished.to_value) == ("big", None)


def test_score_changed_compares_with_the_start_of_the_window(model: ScoringModel) -> None:
    events = [*DAY1, ev("demo_request", "2026-01-02T10:00:00Z")]
    previous = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    current = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    [jump] = fired(detect(model, previous, current, LEAD, events), "big-jump")
    assert (jump.from_value, jump.to_value) == (10.0, 50.0)
    assert jump.payload["data"]["change"]["delta"] == 40.0

    small = [*DAY1, ev("page_view", "2026-01-02T10:00:00Z"), ev("page_view", "2026-01-02T10:30:00Z")]
    assert not fired(detect(model, previous, run(model, LEAD, small, "2026-01-02T12:00:00Z"), LEAD, small), "big-jump")
    # a day and more later the jump has left the window
    assert not fired(detect(model, current, run(model, LEAD, events, "2026-01-03T11:00:00Z"), LEAD, events), "big-jump")


def test_score_changed_fires_once_per_window_bucket(model: ScoringModel) -> None:
    events = [*DAY1, ev("demo_request", "2026-01-02T10:00:00Z")]
    previous = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")

    def jump_at(at: str) -> list[TriggerFiring]:
        return fired(detect(model, previous, run(model, LEAD, events, at), LEAD, events), "big-jump")

    noon, evening, next_day = (
        jump_at("2026-01-02T12:00:00Z"),
        jump_at("2026-01-02T22:00:00Z"),
        jump_at("2026-01-03T01:00:00Z"),
    )
    assert noon[0].key == evening[0].key  # same day bucket: the outbox keeps one
    assert next_day[0].key != noon[0].key  # documented limit: a new bucket may fire again


def test_score_changed_tests_each_models_own_by_whatever_was_tested_before(model: ScoringModel) -> None:
    """`by:` is compiled once per predicate (firings._by) and reused: a model loaded later, with
    another predicate under the same trigger id, is tested with its own, models alternating."""
    events = [*DAY1, ev("demo_request", "2026-01-02T10:00:00Z")]
    previous = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    current = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    strict = parse_model(MODEL.replace("by: {gte: 30}", "by: {gte: 45}"), "trig-test.yaml")
    for _ in range(3):
        assert fired(detect(model, previous, current, LEAD, events), "big-jump")  # delta 40 >= 30
        assert not fired(detect(strict, previous, current, LEAD, events), "big-jump")  # 40 < 45


def test_score_triggers_need_the_window_score(model: ScoringModel) -> None:
    current = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    with pytest.raises(ValueError, match="big-jump"):
        detect_triggers(model, None, current)


def test_results_of_another_lead_are_refused(model: ScoringModel) -> None:
    other = replace(run(model, LEAD, DAY1, "2026-01-01T12:00:00Z"), lead_id="l2")
    with pytest.raises(ValueError, match="l2"):
        detect_triggers(model, other, run(model, LEAD, DAY1, "2026-01-01T13:00:00Z"), score_before_window=lambda t: 0)


def test_payload_is_json_with_the_result_and_the_change(model: ScoringModel) -> None:
    events = [*DAY1, ev("demo_request", "2026-01-02T10:00:00Z")]
    current = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    for firing in detect(model, None, current, LEAD, events):
        body = json.loads(json.dumps(firing.payload))
        assert body["type"] == f"lead.{firing.kind}"
        assert body["data"]["trigger"] == firing.trigger_id
        assert body["data"]["result"] == current.to_dict()
        assert body["data"]["change"]["from"] == firing.from_value
        assert body["data"]["change"]["to"] == firing.to_value


STAGE_TRIGGERS = ("mql-to-crm", "any-stage", "sql-from-mql")


@pytest.mark.parametrize("seed", range(25))
def test_incremental_and_one_shot_detection_fire_the_same_stage_transitions(model: ScoringModel, seed: int) -> None:
    """Evaluating after every event, or once at the end, fires each stage change exactly once."""
    rng = random.Random(seed)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    kinds = ["page_view"] * 6 + ["demo_request", "sales_accepted", "sales_rejected", "deal_won"]
    events: list[Event] = []
    t = start
    for i in range(rng.randint(1, 12)):
        t += timedelta(minutes=rng.choice([0, 5, 90]))
        events.append(Event.of("l1", rng.choice(kinds), t, id=f"e{i}"))

    # events arrive in time order; every evaluation sees all events up to its time
    instants = sorted({e.timestamp for e in events})
    steps = [run(model, LEAD, events, (t + timedelta(seconds=1)).isoformat()) for t in instants]
    incremental: list[str] = []
    previous: Result | None = None
    for current in steps:
        incremental += [f.key for f in detect(model, previous, current, LEAD, events) if f.trigger_id in STAGE_TRIGGERS]
        previous = current
    one_shot = [f.key for f in detect(model, None, steps[-1], LEAD, events) if f.trigger_id in STAGE_TRIGGERS]

    assert len(incremental) == len(set(incremental))  # never twice
    assert sorted(incremental) == sorted(one_shot)  # same transitions, same keys
    moves = sum(1 for c in steps[-1].stage_history if c.previous is not None)
    assert len(set(one_shot)) >= moves  # any-stage alone fires once per move


def test_trigger_when_filters_on_the_new_result_and_attributes() -> None:
    """Addition to the format: `when:` on a trigger (score, label, stage and attribute conditions)."""
    from leadscore.domain import Event, Lead
    from leadscore.engine import Scorer
    from leadscore.model import ModelError, validate_model
    from leadscore.triggers.firings import detect_triggers

    spec = {
        "format": 1,
        "name": "w",
        "rules": [{"id": "demo", "on": "demo_request", "points": 70}],
        "lifecycle": {"stages": ["lead", "mql"], "transitions": [{"to": "mql", "when": {"score": "total", "gte": 60}}]},
        "triggers": [
            {"id": "big-mql", "on": "stage_changed", "to": "mql", "when": {"attribute": "employees", "gte": 100}}
        ],
    }
    model = validate_model(spec)
    events = [Event.of("a", "demo_request", "2026-05-01")]
    for employees, fires in ((500, 1), (10, 0)):
        lead = Lead("a", {"employees": employees})
        current = Scorer(model).score(lead, events, "2026-06-01")
        assert len(detect_triggers(model, None, current, attributes=lead.attributes)) == fires
    bad = {**spec, "triggers": [{"id": "x", "on": "stage_changed", "when": {"count": "demo_request", "gte": 1}}]}
    with pytest.raises(ModelError, match="not at events"):
        validate_model(bad)


@pytest.mark.parametrize("seed", range(20))
def test_results_with_the_same_labels_and_replay_fire_what_the_whole_walk_fires(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without score_changed triggers, detection returns at once when the labels, the stage and the
    replay's moves are those of the previous result: what walking every trigger gives then too."""
    from leadscore.triggers import firings

    stages_and_labels = parse_model(MODEL.replace("  - {id: big-jump", "  # - {id: big-jump"), "t.yaml")
    assert all(t.on != "score_changed" for t in stages_and_labels.triggers)
    rng = random.Random(seed)
    kinds = ["page_view"] * 6 + ["demo_request", "sales_accepted", "sales_rejected", "deal_won"]
    t, events = datetime(2026, 3, 1, tzinfo=UTC), []
    for i in range(rng.randint(1, 12)):
        t += timedelta(minutes=rng.choice([0, 5, 90]))
        events.append(Event.of("l1", rng.choice(kinds), t, id=f"e{i}"))
    lead = Lead("l1", {"employees": rng.choice([5, 500])})
    steps = [run(stages_and_labels, lead, events[:n], (t + timedelta(hours=n)).isoformat()) for n in range(len(events))]
    steps += [replace(r, score=r.score + 1, at=r.at + timedelta(days=1)) for r in steps]  # same labels and moves
    unmoved = 0
    for previous in [None, *steps]:
        for current in steps:
            quick = detect_triggers(stages_and_labels, previous, current)
            with monkeypatch.context() as patch:
                patch.setattr(firings, "_unmoved", lambda previous, current: False)
                assert quick == detect_triggers(stages_and_labels, previous, current)
            unmoved += firings._unmoved(previous, current)
    assert unmoved >= len(steps)  # the quick answer was given, and checked


def test_the_detections_keys_are_idempotency_keys_of_their_transitions(model: ScoringModel) -> None:
    """Each kind's key, made from the transition's parts with times as microseconds, is the key
    `idempotency_key` gives for those parts (a time as a datetime): what outboxes hold."""
    events = [*DAY1, ev("demo_request", "2026-01-02T10:00:00Z")]
    previous = run(model, LEAD, DAY1, "2026-01-01T12:00:00Z")
    current = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    found = detect(model, previous, current, LEAD, events)
    assert {f.kind for f in found} >= {"label_changed", "score_changed"}
    for f in found:
        trigger = next(t for t in model.triggers if t.id == f.trigger_id)
        if f.kind == "label_changed":
            parts: tuple[object, ...] = (trigger.set, f.from_value, f.to_value, previous.at)
        elif f.kind == "score_changed":
            assert trigger.within is not None
            parts = (to_micros(current.at) // trigger.within.micros,)
        else:
            parts = (f.to_value, f.payload["data"]["change"]["entry"])
        assert f.key == idempotency_key(f.kind, model.name, trigger.id, LEAD.id, *parts)


def test_a_models_trigger_list_changed_in_place_is_read_again(model: ScoringModel) -> None:
    """The kinds of a model's triggers are remembered per list, and a list changed since is read again:
    a score_changed trigger added asks for the scores before its window."""
    events = [*DAY1]
    current = run(model, LEAD, events, "2026-01-02T12:00:00Z")
    kept = [t for t in model.triggers if t.on != "score_changed"]
    score = [t for t in model.triggers if t.on == "score_changed"]
    model.triggers[:] = kept
    detect_triggers(model, None, current)  # no score trigger: no scores needed
    model.triggers.extend(score)
    with pytest.raises(ValueError, match="score_before_window"):
        detect_triggers(model, None, current)
