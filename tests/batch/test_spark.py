"""`--engine spark`: the same query on a local Spark equals the pure scorer (one session, a few leads)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.engine import score_many
from leadscore.model import parse_model
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table

pytestmark = [pytest.mark.spark, pytest.mark.integration, pytest.mark.slow]

AT = "2026-06-01T00:00:00Z"
MODEL = """
format: 1
name: spark-check
dimensions:
  engagement: {floor: -10, cap: 40}
  fit: {}
rules:
  - {id: buy, dimension: engagement, on: purchase, where: {category: [shoes, bags]}, points: 20, within: 30d}
  - {id: open, dimension: engagement, on: open, points: 1.5, decay: {half_life: 7d}, limit: 4}
  - {id: demo, dimension: engagement, on: demo, once: true, decay: {linear: 30d}, points: 30}
  - {id: big, dimension: fit, when: {attribute: employees, between: [100, 200]}, points: 100}
  - {id: spend, dimension: engagement, when: {sum: amount, of: purchase, gt: 250}, points: 5}
  - {id: quiet, dimension: engagement, when: {none: [open, purchase], within: 30d}, points: -15}
  - {id: seen, dimension: fit, when: {last: open, newer_than: 1d}, points: 2}
labels:
  segment:
    - {label: hot, when: {score: total, gte: 100}}
    - {label: warm, when: {score: engagement, gt: 0}}
    - {label: cold}
lifecycle:
  stages: [lead, mql, sql, customer]
  exits: [lost]
  transitions:
    - {to: mql, when: {attribute: employees, gte: 150}}
    - {to: sql, on: accepted}
    - {to: customer, on: won, from: [sql]}
    - {to: lost, on: lost}
playbooks:
  - {when: {all: [{stage: {in: [mql, sql]}}, {label: segment, eq: hot}]}, action: call, priority: 1, content: [deck]}
  - {action: nurture}
"""


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from leadscore.batch.spark import session

    s = session("local[2]")
    yield s
    s.stop()


def _data() -> tuple[list[Lead], list[Event]]:
    leads = [Lead.of("a", employees=150), Lead.of("b", employees=120), Lead.of("c")]
    events = [
        Event.of("a", "purchase", "2026-05-20", id="1", category="shoes", amount=300.0),
        Event.of("a", "open", "2026-05-31T12:00:00Z", id="2"),
        Event.of("a", "accepted", "2026-05-02", id="3"),
        Event.of("b", "accepted", "2026-05-01", id="4"),
        Event.of("b", "won", "2026-05-01", id="5"),  # same instant: input order decides (sql, then customer)
        Event.of("b", "demo", "2026-05-10", id="6"),
        Event.of("b", "purchase", "2026-05-02T00:00:00Z", id="7", category="bags", amount=10.0),
        Event.of("b", "purchase", "2026-05-02T00:00:00Z", id="7", category="shoes", amount=999.0),  # repeated id
        Event.of("a", "open", "2026-06-02", id="8"),  # after T
        Event.of("z", "open", "2026-05-30", id="9"),  # a lead known only from its events
    ]
    return leads, events


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_spark_equals_pure_scorer(spark: Any, tmp_path: Path, suffix: str) -> None:
    import pyarrow.parquet as pq

    from leadscore.batch.spark import run_spark

    model = parse_model(MODEL)
    leads, events = _data()
    pq.write_table(leads_table(leads), tmp_path / "leads.parquet")
    pq.write_table(events_table(events), tmp_path / "events.parquet")
    out = tmp_path / f"out{suffix}"
    stats = run_spark(model, tmp_path / "leads.parquet", tmp_path / "events.parquet", AT, out, spark=spark)
    if suffix == ".parquet":
        got = pq.read_table(out).to_pylist()
        for r in got:
            r["breakdown"] = [{k: v for k, v in e.items() if not (k == "events" and v is None)} for e in r["breakdown"]]
    else:
        got = [json.loads(line) for line in out.read_text().splitlines()]
    expected = [r.to_dict() for r in score_many(model, [*leads, Lead("z")], events, AT)]
    assert not differences(expected, got), differences(expected, got)
    assert stats.leads == 4 and stats.fallback_leads == 0
