"""Trained artifacts as predictive dimensions: `leadscore score` on the example, one lead or many, flat or history."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.domain.timeutil import parse_timestamp, to_micros
from leadscore.engine import score
from leadscore.engine.timeline import Timeline
from leadscore.io import read_events, read_leads
from leadscore.model import load_model
from leadscore.predictive import ArtifactError, save
from leadscore.predictive.runtime import load_predictor, load_predictors
from leadscore.predictive.scoring import probabilities
from leadscore.predictive.training import train
from tests.conftest import ROOT
from tests.predictive.conftest import make_leads

EXAMPLE = ROOT / "examples" / "b2b-saas-predictive"
DATA = ROOT / "examples" / "b2b-saas" / "data"
AT = "2026-06-01T00:00:00Z"
runner = CliRunner()


@pytest.fixture(scope="module")
def example_results() -> list[dict[str, object]]:
    args = ["score", str(EXAMPLE / "model.yaml"), "--leads", str(DATA / "leads.csv")]
    result = runner.invoke(app, [*args, "--events", str(DATA / "events.csv"), "--at", AT, "--format", "json"])
    assert result.exit_code == 0, result.output
    found: list[dict[str, object]] = json.loads(result.stdout)
    return found


def test_score_command_gives_every_lead_a_prediction_with_factors_in_words(
    example_results: list[dict[str, object]],
) -> None:
    assert len(example_results) == 40
    for r in example_results:
        pred = r["predictions"]["propensity"]  # type: ignore[index]
        assert 0 < pred["probability"] < 1
        assert r["dimensions"]["propensity"] == pytest.approx(100 * pred["probability"])  # type: ignore[index]
        factors = pred["top_positive"] + pred["top_negative"]
        assert 1 <= len(pred["top_positive"]) <= 3 and len(pred["top_negative"]) <= 3
        assert all(isinstance(f["factor"], str) and " " in f["factor"] for f in factors)
        assert all(f["weight"] > 0 for f in pred["top_positive"])
        assert all(f["weight"] < 0 for f in pred["top_negative"])
    assert any(r["labels"]["intent"] != "unlikely" for r in example_results)  # type: ignore[index]


@pytest.mark.slow
def test_score_command_equals_the_pure_scorer_with_the_loaded_predictors(
    example_results: list[dict[str, object]],
) -> None:
    model = load_model(EXAMPLE / "model.yaml")
    predictors = load_predictors(model, EXAMPLE)
    events = read_events(DATA / "events.csv")
    by_id = {r["lead_id"]: r for r in example_results}
    for lead in read_leads(DATA / "leads.csv"):
        expected = score(model, lead, events, AT, predictors).to_dict()
        assert json.loads(json.dumps(expected)) == by_id[lead.id]


def _cases() -> list[tuple[dict[str, object], Timeline, int]]:
    at = to_micros(parse_timestamp(AT))
    events = read_events(DATA / "events.csv")
    return [
        (dict(lead.attributes), Timeline([e for e in events if e.lead_id == lead.id], until=at), at)
        for lead in read_leads(DATA / "leads.csv")
    ]


def test_one_lead_at_a_time_equals_the_batch_and_the_general_feature_path() -> None:
    predictor = load_predictor(EXAMPLE / "won-90d.lsm")
    cases = _cases()
    many = predictor.predict_many(cases, top=3)
    one = [predictor.predict_one(a, tl, t, 3) for a, tl, t in cases]
    assert [p.probability for p in many] == pytest.approx([p.probability for p in one], rel=1e-12)
    assert [p.positive for p in many] == [p.positive for p in one]
    # the fast encoder agrees with FeatureSchema.transform, the path training and `predict` use
    raw = pd.DataFrame(predictor.rows(cases))
    reference = probabilities(predictor.artifact, raw)
    assert np.allclose([p.probability for p in many], reference, rtol=1e-9, atol=1e-12)


@pytest.mark.slow
def test_flat_artifact_reads_the_lead_attributes_by_column_name(tmp_path: Path) -> None:
    table = make_leads(600, seed=3)
    result = train(table, "converted", exclude=["email"], split="stratified", seed=1)
    path = save(result.artifact, tmp_path / "flat.lsm")
    predictor = load_predictor(path)
    empty = Timeline([])
    records: list[dict[str, object]] = [
        {str(k): v for k, v in row.items()} for row in table.drop(columns=["converted"]).to_dict("records")[:50]
    ]
    cases = [(row, empty, 0) for row in records]
    got = [p.probability for p in predictor.predict_many(cases, top=2)]
    expected = probabilities(result.artifact, table.head(50))
    assert np.allclose(got, expected, rtol=1e-9)
    first = predictor.predict_one(*cases[0], top=2)
    assert any(f.text.startswith(("source = ", "visits = ", "employees = ")) for f in first.positive + first.negative)


def test_a_missing_artifact_names_the_dimension_and_the_file(tmp_path: Path) -> None:
    text = (EXAMPLE / "model.yaml").read_text(encoding="utf-8").replace("won-90d.lsm", "missing.lsm")
    (tmp_path / "model.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"dimension 'propensity'.*missing\.lsm"):
        load_predictors(load_model(tmp_path / "model.yaml"), tmp_path)
    result = runner.invoke(app, ["score", str(tmp_path / "model.yaml"), "--events", str(DATA / "events.csv")])
    assert result.exit_code == 2 and "missing.lsm" in result.output


@pytest.mark.slow
def test_the_store_predicts_on_ingest_like_the_pure_scorer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from leadscore.app.service import LeadService
    from leadscore.app.workspace import Workspace, init_workspace

    monkeypatch.delenv("LEADSCORE_DATABASE_URL", raising=False)
    init_workspace(tmp_path, (EXAMPLE / "model.yaml").read_text(encoding="utf-8"))
    (tmp_path / "won-90d.lsm").write_bytes((EXAMPLE / "won-90d.lsm").read_bytes())
    at = datetime(2026, 6, 1, tzinfo=UTC)
    service = LeadService.from_workspace(Workspace.load(tmp_path), clock=lambda: at)
    try:
        service.upgrade()
        leads = read_leads(DATA / "leads.csv")[:8]
        events = [e for e in read_events(DATA / "events.csv") if e.lead_id in {lead.id for lead in leads}]
        service.ingest_leads(leads)
        service.ingest_events(events)
        model = load_model(EXAMPLE / "model.yaml")
        predictors = load_predictors(model, EXAMPLE)
        for lead in leads:
            stored = service.result(lead.id)
            expected = score(model, lead, events, at, predictors)
            assert stored is not None
            assert stored.dimensions["propensity"] == pytest.approx(expected.dimensions["propensity"], rel=1e-9)
            assert stored.score == pytest.approx(expected.score, rel=1e-9)
    finally:
        service.close()


def test_the_probability_alone_is_remembered_by_content_and_equals_a_fresh_prediction() -> None:
    """The lifecycle replay asks for the probability at each past event, on a new timeline object at
    every rescore: the answer at T is the one of a timeline cut at T, and asking again (on another
    object with the same content) computes nothing; another event before T is another question."""
    from leadscore.domain import Event

    predictor = load_predictor(EXAMPLE / "won-90d.lsm")
    by_lead: dict[str, list[Event]] = {}
    for event in read_events(DATA / "events.csv"):
        by_lead.setdefault(event.lead_id, []).append(event)
    leads = {lead.id: lead for lead in read_leads(DATA / "leads.csv")}
    lead_id = max(by_lead, key=lambda k: len(by_lead[k]))
    events, attributes = by_lead[lead_id], leads[lead_id].attributes
    times = sorted({e.ts for e in events})
    full = Timeline(events)
    remembered = [predictor.predict_one(attributes, full, t, 0).probability for t in times]
    fresh = [predictor.predict_many([(attributes, Timeline(events, until=t), t)], 0)[0].probability for t in times]
    assert remembered == pytest.approx(fresh, rel=1e-12)
    seen = dict(predictor._seen)
    again = [predictor.predict_one(dict(attributes), Timeline(list(events)), t, 0).probability for t in times]
    assert again == remembered and predictor._seen == seen
    extra = Event.of(lead_id, "demo_request", events[0].timestamp.isoformat())
    predictor.predict_one(attributes, Timeline([*events, extra]), times[-1], 0)
    assert len(predictor._seen) > len(seen)
