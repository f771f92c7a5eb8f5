from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leadscore.predictive.errors import DataError
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.table import read_table
from leadscore.predictive.training import train
from tests.predictive.conftest import shared_file


def _fast(seed: int = 42) -> dict[str, object]:
    return {
        "naive_bayes": NaiveBayesScorer(),
        "logistic": LogisticScorer(seed=seed),
        "lightgbm": LightGBMScorer(n_estimators=60, early_stopping_rounds=20, seed=seed),
    }


@pytest.mark.slow
def test_stratified_training_reports_candidates_and_calibrated_metrics(leads: pd.DataFrame) -> None:
    result = train(leads, "converted", candidates=_fast())
    assert result.split.kind == "stratified"
    assert {c.name for c in result.candidates} == {"naive_bayes", "logistic", "lightgbm", "blend"}
    assert result.chosen in {c.name for c in result.candidates}
    assert result.metrics.rows == len(leads)
    assert result.metrics.roc_auc is not None and result.metrics.roc_auc > 0.65
    assert result.metrics.ece < 0.1
    report = result.report()
    for key in ("roc_auc", "pr_auc", "log_loss", "brier", "chosen_model", "split"):
        assert key in report
    meta = result.artifact.metadata
    assert meta["rows"]["total"] == len(leads)
    assert "lead_id" in meta["dropped"] and "country" in meta["dropped"]
    assert any(n.startswith("dropped column lead_id: id-like") for n in result.notes)


def test_time_split_orders_by_the_time_column_and_never_tests_on_the_past(leads: pd.DataFrame) -> None:
    shuffled = leads.sample(frac=1.0, random_state=1).reset_index(drop=True)
    result = train(shuffled, "converted", time="signup_date", candidates=_fast())
    assert result.split.kind == "time"
    window = result.artifact.metadata["data_window"]
    assert window["training"]["to"] <= window["heldout"]["from"]
    assert result.metrics.rows == round(len(leads) * 0.2)


@pytest.mark.slow
def test_same_seed_gives_the_same_artifact_scores(leads: pd.DataFrame) -> None:
    a = train(leads, "converted", split="time", candidates=_fast())
    b = train(leads, "converted", split="time", candidates=_fast())
    np.testing.assert_array_equal(a.heldout_p, b.heldout_p)
    assert a.chosen == b.chosen


def test_user_errors_name_the_problem(leads: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"unknown column.*nope"):
        train(leads, "nope")
    with pytest.raises(DataError, match="not binary"):
        train(leads, "source")
    with pytest.raises(DataError, match=r"unknown column.*ghost"):
        train(leads, "converted", exclude=["ghost"])


@pytest.mark.slow
def test_real_bank_data_by_time_beats_chance_and_flags_duration() -> None:
    frame = read_table(shared_file("bank_full.csv")).iloc[::3].reset_index(drop=True)
    result = train(frame, "y", split="time", candidates=_fast())
    assert any("duration" in w for w in result.warnings)
    honest = train(frame, "y", exclude=["duration"], split="time", candidates=_fast())
    assert not any("duration" in w for w in honest.warnings)
    assert honest.metrics.roc_auc is not None and honest.metrics.roc_auc > 0.65
