"""Out-of-fold target encoding of high-cardinality categories, and the choice between it and the
"(other)" bucket on validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.features import OTHER, high_cardinality, infer_schema, widen
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.scoring import predict
from leadscore.predictive.target_encoding import TargetEncodedScorer
from leadscore.predictive.training import train
from leadscore.predictive.treatment import choose
from tests.predictive.conftest import make_city_leads as _cities


def _frame(leads: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    raw = leads.drop(columns=["converted"])
    schema = infer_schema(raw)
    wide = widen(schema, raw, high_cardinality(schema))
    return wide.transform(raw), (leads["converted"] == "yes").to_numpy().astype(int)


def test_high_cardinality_columns_are_the_ones_that_lose_values_to_the_bucket() -> None:
    leads = _cities(3000, 0)
    schema = infer_schema(leads.drop(columns=["converted"]))
    assert high_cardinality(schema) == ["city"]
    city = schema.features[schema.names.index("city")]
    assert OTHER in city.categories and len(city.categories) <= 101
    wide = widen(schema, leads.drop(columns=["converted"]), ["city"])
    kept = wide.features[wide.names.index("city")]
    assert kept.encoding == "target" and OTHER not in kept.categories
    assert len(kept.categories) == leads["city"].nunique()  # every value seen kept, none lost
    assert wide.features[wide.names.index("visits")] == schema.features[schema.names.index("visits")]


def test_training_rows_are_encoded_out_of_fold_and_new_rows_with_every_training_row() -> None:
    X, y = _frame(_cities(2000, 1))
    model = TargetEncodedScorer(LogisticScorer(seed=0), ("city",), seed=0).fit(X, y)
    oof = model.out_of_fold(X, y)["city"].to_numpy()
    full = model.encode(X)["city"].to_numpy()
    codes = X["city"].cat.codes.to_numpy()
    # a city seen once: out of fold it has no history (the prior, 0); with every row it holds its own label
    once = np.flatnonzero(np.bincount(codes)[codes] == 1)
    assert once.size > 5
    assert np.allclose(oof[once], 0.0)
    assert np.all(np.sign(full[once]) == np.where(y[once] == 1, 1, -1))
    # the candidate learned from the out-of-fold column, and scoring uses the full encoding
    assert np.allclose(model.base_.decision_function(model.encode(X)), model.decision_function(X))
    assert not np.allclose(oof, full)


def test_the_encoding_never_sees_the_rows_own_outcome() -> None:
    """Leakage guard: flipping one row's outcome leaves its own out-of-fold encoding unchanged."""
    X, y = _frame(_cities(1500, 2))
    model = TargetEncodedScorer(NaiveBayesScorer(), ("city",), seed=0)
    before = model.out_of_fold(X, y)["city"].to_numpy()
    for row in (0, 17, 400):
        flipped = y.copy()
        flipped[row] = 1 - flipped[row]
        after = model.out_of_fold(X, flipped)["city"].to_numpy()
        assert after[row] == pytest.approx(before[row])


def test_pure_noise_ids_do_not_fool_the_model_out_of_fold() -> None:
    """A column of near-unique values with no signal: encoded with each row's own label it would look
    perfect in training; out of fold the model learns it is worthless and new rows rank at chance."""
    rng = np.random.default_rng(3)
    n = 3000
    code = rng.integers(0, 1500, n)
    y = (rng.random(n) < 0.3).astype(int)
    raw = pd.DataFrame({"code": [f"c{c}" for c in code], "noise": rng.normal(size=n)})
    schema = infer_schema(raw.iloc[:2000])
    wide = widen(schema, raw.iloc[:2000], ["code"])
    X = wide.transform(raw)
    model = TargetEncodedScorer(LightGBMScorer(n_estimators=100, seed=0), ("code",), seed=0)
    model.fit(X.iloc[:2000], y[:2000])
    leaky = LightGBMScorer(n_estimators=100, seed=0).fit(model.encode(X.iloc[:2000]), y[:2000])
    held = slice(2000, None)
    assert roc_auc_score(y[:2000], leaky.decision_function(model.encode(X.iloc[:2000]))) > 0.9  # what leaking does
    assert abs(roc_auc_score(y[held], model.decision_function(X.iloc[held])) - 0.5) < 0.06


_SMALL = _cities(600, 4, cities=50)
_SMALL_RAW = _SMALL.drop(columns=["converted"])
_SMALL_SCHEMA = widen(infer_schema(_SMALL_RAW), _SMALL_RAW, ["city"])
_SMALL_MODEL = TargetEncodedScorer(NaiveBayesScorer(), ("city",), seed=0).fit(
    _SMALL_SCHEMA.transform(_SMALL_RAW), (_SMALL["converted"] == "yes").to_numpy().astype(int)
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(["city-0", "city-3", None, "", "N/A", "city-never-seen", "x"]), min_size=1, max_size=30)
)
def test_scoring_encodes_missing_and_unseen_values_as_the_prior(values: list[str | None]) -> None:
    frame = _SMALL_SCHEMA.transform(pd.DataFrame({"city": values, "visits": 1.0}))
    encoded = _SMALL_MODEL.encode(frame)["city"].to_numpy()
    table = _SMALL_MODEL.encodings_["city"]
    categories = list(_SMALL_SCHEMA.features[_SMALL_SCHEMA.names.index("city")].categories)
    for value, got in zip(values, encoded, strict=True):
        expected = table[categories.index(value)] if value in categories else 0.0
        assert got == pytest.approx(expected)
    contributions = _SMALL_MODEL.contributions(frame)
    assert np.allclose(_SMALL_MODEL.expected_value_ + contributions.sum(axis=1), _SMALL_MODEL.decision_function(frame))


@pytest.mark.slow
def test_the_encoding_is_chosen_when_the_cities_carry_the_signal() -> None:
    leads = _cities(6000, 5, signal=1.0)
    raw = leads.drop(columns=["converted"])
    schema = infer_schema(raw)
    y = (leads["converted"] == "yes").to_numpy().astype(int)
    treatment, chosen_schema, _ = choose(schema, raw, schema.transform(raw), y, np.arange(len(y)), "stratified", 0)
    assert treatment.kind == "target", treatment.note
    assert "target-encoded out of fold" in treatment.note and "city" in treatment.note
    assert treatment.validation_auc["target"] > treatment.validation_auc["other"]  # type: ignore[operator]
    assert chosen_schema.features[chosen_schema.names.index("city")].encoding == "target"


@pytest.mark.slow
def test_the_bucket_is_kept_when_the_cities_say_nothing() -> None:
    leads = _cities(4000, 6, signal=0.0)
    raw = leads.drop(columns=["converted"])
    schema = infer_schema(raw)
    y = (leads["converted"] == "yes").to_numpy().astype(int)
    treatment, chosen_schema, _ = choose(schema, raw, schema.transform(raw), y, np.arange(len(y)), "stratified", 0)
    assert treatment.kind == "other", treatment.note
    assert "(other) bucket kept" in treatment.note
    assert chosen_schema is schema


@pytest.mark.slow
def test_training_reports_the_treatment_and_scores_new_cities(tmp_path: object) -> None:
    leads = _cities(6000, 7)
    fast = {"naive_bayes": NaiveBayesScorer(), "logistic": LogisticScorer(seed=0)}
    result = train(leads, "converted", split="time", candidates=fast, seed=0)
    report = result.report()
    assert report["feature_treatment"]["kind"] == "target"
    assert report["feature_treatment"]["columns"] == ["city"]
    assert any("target-encoded out of fold" in n for n in result.notes)
    assert report["recency_weighting"]["candidate"] == result.chosen
    assert isinstance(result.artifact.model, TargetEncodedScorer)
    fresh = _cities(200, 8).drop(columns=["converted"])
    fresh.loc[:9, "city"] = "a-city-never-seen"
    scored = predict(result.artifact, fresh)
    assert len(scored) == 200 and scored["score"].between(0, 1).all()
    # held out, the encoded model ranks better than chance by a margin (the city carries the signal)
    assert result.metrics.roc_auc is not None and result.metrics.roc_auc > 0.7


def test_a_few_values_with_a_rare_one_are_no_high_cardinality() -> None:
    rng = np.random.default_rng(9)
    plans = [*rng.choice(["a", "b", "c", "d", "e"], 498), "rare", "rare"]
    raw = pd.DataFrame({"plan": plans, "x": rng.normal(size=500)})
    schema = infer_schema(raw)
    assert high_cardinality(schema) == ["plan"]  # the rare value went to the bucket
    y = (rng.random(500) < 0.3).astype(int)
    X = schema.transform(raw)
    treatment, same, frame = choose(schema, raw, X, y, np.arange(500), "stratified", 0)
    assert treatment.kind == "none" and same is schema and frame is X
