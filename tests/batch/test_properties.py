"""The batch engine equals the pure scorer lead by lead, on generated models and data."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.batch import run_batch
from leadscore.domain.events import Event
from leadscore.domain.lead import Lead
from leadscore.engine import score_many
from tests.batch.compare import differences
from tests.batch.tables import events_table, leads_table
from tests.support.profiles import examples
from tests.support.strategies import AT, edge_busy_data, edge_data, edge_lifecycle_models, edge_models, valid_model


def with_event_leads(leads: list[Lead], events: list[Event]) -> list[Lead]:
    """As `leadscore score` does: a lead id known only from events is a lead without attributes."""
    known = {lead.id for lead in leads}
    return [*leads, *(Lead(i) for i in sorted({e.lead_id for e in events} - known))]


def _check(model_data: dict[str, Any], leads: list[Lead], events: list[Event], clustered: bool | None = None) -> None:
    """`clustered`: the form of the query's counts (`layout.py`) forced to one or the other; both must
    give the pure scorer's results whatever the sample of the events' first rows would say."""
    model = valid_model(model_data)  # an invalid generated model (e.g. a backward transition) is rejected
    expected = [r.to_dict() for r in score_many(model, with_event_leads(leads, events), events, AT)]
    if clustered is None:
        run = run_batch(model, leads_table(leads), events_table(events), AT)
    else:
        with patch("leadscore.batch.duckdb.run.events_clustered", return_value=clustered):
            run = run_batch(model, leads_table(leads), events_table(events), AT)
    diff = differences(expected, run.to_dicts())
    assert not diff, "\n".join(diff[:10])


@pytest.mark.slow
@settings(
    max_examples=examples(80),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(edge_models(), edge_data(), st.booleans())
def test_batch_equals_pure_scorer(
    model_data: dict[str, Any], sample: tuple[list[Lead], list[Event]], clustered: bool
) -> None:
    _check(model_data, *sample, clustered=clustered)


@pytest.mark.slow
@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(model_data=edge_models(), sample=edge_data(), output=st.sampled_from(["jsonl", "dimensions", "columns", "list"]))
def test_files_equal_pure_scorer(
    tmp_path_factory: Any, model_data: dict[str, Any], sample: tuple[list[Lead], list[Event]], output: str
) -> None:
    """Through real files: Parquet in, JSON Lines or Parquet (each layout) out; the dimensions layout,
    whose run computes no breakdown, equals the pure scorer's results without theirs."""
    import json

    import pyarrow.parquet as pq

    from leadscore.sql.result_columns import result_dict

    model = valid_model(model_data)
    leads, events = sample
    d = tmp_path_factory.mktemp("batch")
    pq.write_table(leads_table(leads), d / "leads.parquet")
    pq.write_table(events_table(events), d / "events.parquet")
    out = d / ("out.jsonl" if output == "jsonl" else "out.parquet")
    run_batch(
        model,
        d / "leads.parquet",
        d / "events.parquet",
        AT,
        out=out,
        breakdown="list" if output == "jsonl" else output,
    )
    expected = [r.to_dict() for r in score_many(model, with_event_leads(leads, events), events, AT)]
    if output == "dimensions":
        got = [{**r, "labels": r["labels"] or {}} for r in pq.read_table(out).to_pylist()]
        expected = [{k: v for k, v in r.items() if k != "breakdown"} for r in expected]
    elif output == "columns":
        got = [result_dict(model, r) for r in pq.read_table(out).to_pylist()]
    elif output == "list":
        got = pq.read_table(out).to_pylist()
        for r in got:
            r["breakdown"] = [{k: v for k, v in e.items() if not (k == "events" and v is None)} for e in r["breakdown"]]
            r["labels"] = r["labels"] or {}
    else:
        got = [json.loads(line) for line in out.read_text().splitlines()]
    diff = differences(expected, got)
    assert not diff, "\n".join(diff[:10])


@pytest.mark.slow
@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(edge_lifecycle_models(), edge_busy_data())
def test_lifecycle_replay_in_sql_equals_pure_scorer(
    model_data: dict[str, Any], sample: tuple[list[Lead], list[Event]]
) -> None:
    """Automatic transitions on scores and events at each event's time, many events per lead."""
    _check(model_data, *sample, clustered=True)
