"""`sql.stage_sql.relevance`: after which initial stages and event types each automatic transition's
condition may be read by the replay (from its sources only); `reentries`: where it may be read again
after a time where it held."""

from __future__ import annotations

from leadscore.model import parse_model
from leadscore.sql.stage_sql import reentries, relevance

LIFECYCLE = """
format: 1
name: funnel
rules:
  - {id: v, on: page_view, points: 1}
lifecycle:
  initial: lead
  exits: [recycled, disqualified]
  stages: [subscriber, lead, mql, sql]
  transitions:
    - {to: lead, from: subscriber, when: {count: form_submit, gte: 1}}
    - {to: mql, when: {score: total, gte: 3}}
    - {to: sql, on: accepted}
    - {to: recycled, from: [sql], on: rejected}
    - {to: disqualified, from: [mql], when: {count: bounce, gte: 1}}
    - {to: lead, from: recycled, when: {score: total, lt: 2}}
"""


def test_each_condition_is_read_from_the_stages_and_after_the_events_that_may_reach_its_sources() -> None:
    stages = ["subscriber", "lead", "mql", "sql", "recycled", "disqualified"]
    got = relevance(parse_model(LIFECYCLE).lifecycle)  # type: ignore[arg-type]
    assert [sorted(s) for s, _ in got] == [
        ["subscriber"],  # nothing leads back to subscriber: a lead that starts elsewhere never reads it
        sorted(["subscriber", "lead", "recycled"]),  # `to: mql` from the earlier path stages, recycled by a chain
        sorted(["subscriber", "lead", "mql", "recycled"]),  # mql, reached by the automatic chain from lead
        ["recycled"],
    ]
    assert [sorted(t) for _, t in got] == [
        ["stage_set"],
        ["rejected", "stage_set"],  # `rejected` leads to recycled, then lead (its `from:` is over-approximated)
        ["rejected", "stage_set"],
        ["rejected", "stage_set"],
    ]
    assert set().union(*(s for s, _ in got)) <= set(stages)


def test_a_hold_ends_the_reading_unless_the_lead_may_be_where_other_transitions_lead_back() -> None:
    got = reentries(parse_model(LIFECYCLE).lifecycle)  # type: ignore[arg-type]
    assert got == [
        (frozenset(), frozenset()),  # out of subscriber, nothing leads back there
        # the MQL's sources are reached again from recycled (automatically) and so after `rejected`
        (frozenset({"recycled"}), frozenset({"rejected", "stage_set"})),
        None,  # out of mql, subscriber and recycled lead to mql again, and `to: lead` leads into them
        (frozenset(), frozenset()),  # out of recycled, back in lead: nothing automatic leads to recycled
    ]
    # an automatic transition into such a stage: a hold says nothing of where the lead is
    into = LIFECYCLE.replace("on: rejected}", "when: {count: rejected, gte: 1}}")
    assert reentries(parse_model(into).lifecycle)[1] is None  # type: ignore[arg-type]
