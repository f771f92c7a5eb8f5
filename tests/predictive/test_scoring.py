from __future__ import annotations

import copy
import re

import pandas as pd
import pytest

from leadscore.predictive.errors import DataError
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.scoring import evaluate, live_drift, predict
from leadscore.predictive.training import train
from tests.predictive.conftest import make_leads

FACTOR = re.compile(r"^\S.* \([+-]\d+\.\d\d\)$")


# the tests of the trained artifact on one xdist worker, which trains it once
TRAINED_GROUP = pytest.mark.xdist_group("predictive-scoring")


@pytest.fixture(scope="module")
def trained():  # type: ignore[no-untyped-def]
    """Trained once for the module on `make_leads()` (the rows the `leads` fixture gives every test)."""
    fast = {
        "naive_bayes": NaiveBayesScorer(),
        "logistic": LogisticScorer(),
        "lightgbm": LightGBMScorer(n_estimators=40),
    }
    return train(make_leads(), "converted", split="time", candidates=fast).artifact


@pytest.fixture()
def artifact(trained):  # type: ignore[no-untyped-def]
    """A copy for each test: what one test does to it never reaches another, as when each trained its own."""
    return copy.deepcopy(trained)


@TRAINED_GROUP
def test_predictions_carry_readable_top_factors(artifact, leads: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    out = predict(artifact, leads.drop(columns=["converted"]), top=3)
    assert list(out.columns) == ["lead_id", "score", "top_positive", "top_negative"]
    assert out["lead_id"].tolist() == leads["lead_id"].tolist()
    assert out["score"].between(0, 1).all()
    for factors in [*out["top_positive"], *out["top_negative"]]:
        assert len(factors) <= 3
        assert all(FACTOR.match(f) for f in factors), factors
    assert all(float(f[-6:-1]) > 0 for row in out["top_positive"] for f in row)
    assert all(float(f[-6:-1]) < 0 for row in out["top_negative"] for f in row)
    referral = out[leads["source"] == "referral"]
    assert referral["top_positive"].map(lambda fs: any(f.startswith("source = referral") for f in fs)).mean() > 0.5


@TRAINED_GROUP
def test_evaluate_needs_the_label_and_gives_segments(artifact, leads: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    heldout = leads.tail(300)  # the time split's test rows: never trained on
    result = evaluate(artifact, heldout, segment="source")
    assert result.heldout and result.metrics.rows == len(heldout)
    counts = heldout["source"].value_counts()
    assert set(result.segments) == set(counts[counts >= 30].index)  # tiny segments are left out
    with pytest.raises(DataError, match="label column 'converted'"):
        evaluate(artifact, leads.drop(columns=["converted"]))


@TRAINED_GROUP
def test_live_drift_is_quiet_on_training_like_data_and_warns_after_a_shift(artifact, leads: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    quiet = live_drift(artifact, leads)
    assert quiet.score_psi < 0.1
    shifted = leads.copy()
    shifted["source"] = "referral"
    shifted["visits"] = shifted["visits"] + 8
    loud = live_drift(artifact, shifted)
    assert loud.retrain
    assert loud.score_psi > 0.25
    assert any("visits" in w or "source" in w for w in loud.warnings)


@TRAINED_GROUP
def test_unknown_and_missing_categories_are_explained_as_missing(artifact, leads: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
    rows = leads.head(20).copy()
    rows.loc[rows.index[:10], "source"] = "a channel never seen in training"
    rows.loc[rows.index[10:], "source"] = None
    out = predict(artifact, rows, top=20)
    texts = [t for row in out["top_positive"] + out["top_negative"] for t in row]
    assert not any("never seen" in t for t in texts)
    assert out["score"].between(0, 1).all()
