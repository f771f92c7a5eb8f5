"""`model plan` over a store through the batch engine: the same results as the pure scorer, per lead."""

from __future__ import annotations

from collections.abc import Callable

from leadscore.batch.store import score_store
from leadscore.model import parse_model
from leadscore.service import LeadService
from leadscore.store import LeadStore
from leadscore.store.maintenance import all_lead_batches, score_all
from leadscore.store.pipeline import Evaluator
from tests.batch.compare import differences
from tests.store.helpers import random_events, random_leads

PLAN_MODEL = """
format: 1
name: plan-b2b
dimensions:
  fit: {}
  engagement: {cap: 100}
rules:
  - {id: big, dimension: fit, when: {attribute: employees, gte: 100}, points: 30}
  - {id: visit, dimension: engagement, on: page_view, points: 5, within: 30d}
  - {id: pricing, dimension: engagement, on: page_view, where: {path: {contains: pricing}}, points: 20,
     decay: {half_life: 7d}}
  - {id: demo, dimension: engagement, on: demo_request, points: 40, once: true}
  - {id: quiet, dimension: engagement, when: {none: page_view, within: 14d}, points: -10}
labels:
  temperature:
    - {label: hot, when: {score: total, gte: 60}}
    - {label: cold}
lifecycle:
  stages: [lead, mql, sql]
  exits: [recycled]
  transitions:
    - {to: mql, when: {all: [{score: total, gte: 60}, {score: engagement, gte: 25}]}}
    - {to: recycled, on: email_open, from: [mql]}
    - {to: lead, from: [recycled], when: {score: engagement, lt: 20}}
playbooks:
  - {name: call, when: {stage: {in: [mql, sql]}}, priority: 1, action: Call now}
  - {name: newsletter, action: Newsletter}
"""


def test_plan_through_the_batch_engine_equals_the_pure_scorer(service: LeadService, store: LeadStore) -> None:
    service.ingest_leads(random_leads(7, 40))
    service.ingest_events(random_events(7, 40, 600, days=60))
    evaluator = Evaluator(parse_model(PLAN_MODEL))
    at = service.now_us()
    assert score_store(store, evaluator, at) is not None  # the model and data suit the batch engine
    got = [d for done in score_all(store, evaluator, at, batch_size=16) for d in done.results]
    expected = []
    for ids in all_lead_batches(store, 16):
        with store.read() as conn:
            expected += evaluator.rescore(store, conn, ids, at, "plan", write=False, keep=True).results
    assert len(got) == 40
    assert {r.stage for r in expected} >= {"lead", "mql"}  # the replay decides real stages here
    diff = differences([r.to_dict() for r in expected], [r.to_dict() for r in got])
    assert not diff, "\n".join(diff[:10])


def test_plan_keeps_the_pure_scorer_for_models_with_triggers(
    make_service: Callable[..., LeadService], store: LeadStore
) -> None:
    service = make_service()  # the store tests' model fires triggers, which need each stage history
    assert service.model.triggers
    assert score_store(store, service.evaluator, service.now_us()) is None
