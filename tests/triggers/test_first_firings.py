"""The firings of a part's leads with no previous result, found at once (`first_firings`), against
`detect_transitions` lead by lead."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.domain.result import Result, StageChange, StageColumns
from leadscore.domain.timeutil import from_micros
from leadscore.model import parse_model
from leadscore.triggers.firings import _key, detect_transitions
from leadscore.triggers.first_firings import applies, first_transitions, key_batch
from tests.support.profiles import examples
from tests.triggers.test_firings import MODEL

AT = 10_000_000
STAGES = ["lead", "mql", "sql", "customer", "recycled", "elsewhere"]
BASE = parse_model(MODEL, "trig-test.yaml")

lead_case = st.tuples(
    st.sampled_from(STAGES),
    # each change: (stage, time step, cause, event id); the times never go back, the last may be AT
    st.lists(
        st.tuples(
            st.sampled_from(STAGES),
            st.integers(0, 3),
            st.sampled_from(["auto", "manual", "event:x"]),
            st.none() | st.sampled_from(["e1", "e2"]),
        ),
        max_size=6,
    ),
    st.fixed_dictionaries(
        {}, optional={"temperature": st.none() | st.sampled_from(["hot", "warm", "cold"]), "fit": st.just("big")}
    ),
)


def history(init: str, steps: list[tuple[str, int, str, str | None]]) -> tuple[list[StageChange], list[int]]:
    t = AT - 5_000_000
    out, times, stage = [StageChange(init, from_micros(t), None, "initial")], [t], init
    for to, step, cause, eid in steps:
        t = min(t + step * 1_000_000, AT)
        if to != stage:
            out.append(StageChange(to, from_micros(t), stage, cause, eid))
            times.append(t)
            stage = to
    return out, times


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(lead_case, max_size=6), st.permutations(range(len(BASE.triggers))), st.data())
def test_the_firings_of_leads_without_a_previous_result_are_detect_transitions(
    leads: list[Any], order: list[int], data: st.DataObject
) -> None:
    """The same firings, in the same order (time, then the model's trigger order: permuted here, so
    that a stage change at the evaluation's time meets a label change in either order), same keys."""
    model = BASE.model_copy(update={"triggers": [BASE.triggers[k] for k in order]})
    assert applies(model)
    at = from_micros(AT)
    to: list[str] = []
    froms: list[str | None] = []
    causes: list[str] = []
    eids: list[str | None] = []
    ts: list[int] = []
    first, ids, labels, expected = [0], [], {}, {}
    for i, (init, steps, lead_labels) in enumerate(leads):
        changes, times = history(init, steps)
        for c, t in zip(changes, times, strict=True):
            to.append(c.stage)
            froms.append(c.previous)
            causes.append(c.cause)
            eids.append(c.event_id)
            ts.append(t)
        first.append(len(ts))
        ids.append(f"l{i}")
        labels[i] = lead_labels
        stage = changes[-1].stage
        current = Result(f"l{i}", at, model.name, "v", 1.0, {}, lead_labels, stage, (), None, tuple(changes))
        found = detect_transitions(model, None, current, scores_quiet=True)
        if found:
            expected[i] = found
    chosen = data.draw(st.lists(st.sampled_from(range(len(leads))), unique=True).map(sorted)) if leads else []
    got = first_transitions(model, chosen, ids, at, labels, StageColumns(to, froms, causes, eids, ts), first)
    assert got == {i: f for i, f in expected.items() if i in chosen}


def test_a_model_with_a_when_is_left_to_the_per_lead_detection() -> None:
    model = parse_model(MODEL.replace("destination: crm}", "destination: crm, when: {score: total, gte: 1}}", 1))
    assert not applies(model)


@given(st.lists(st.lists(st.none() | st.integers(-5, 5) | st.text(max_size=4), max_size=6), max_size=5))
def test_keys_in_a_batch_are_the_keys_one_by_one(parts: list[list[object]]) -> None:
    assert key_batch(parts) == [_key(p) for p in parts]
