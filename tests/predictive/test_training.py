from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from leadscore.predictive.errors import DataError
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.recalibration import walk_forward
from leadscore.predictive.table import read_table
from leadscore.predictive.training import train
from tests.predictive.conftest import make_leads, shared_file


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


def _late_campaign(n: int, seed: int) -> pd.DataFrame:
    """Leads in time order whose last 30% come from a spring campaign that converts more: the campaign
    starts inside the tournament's validation window (64-80% of the rows), so the model fitted before
    the window has never seen it while the model refitted on the training part has learnt it."""
    frame = make_leads(n, seed=seed)
    rng = np.random.default_rng(seed + 7)
    late = np.arange(n) >= int(0.7 * n)
    frame["campaign"] = np.where(late, "spring", "winter")
    flip = late & (frame["converted"] == "no").to_numpy() & (rng.random(n) < 0.3)
    frame.loc[flip, "converted"] = "yes"
    return frame


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def _without_alignment(p: np.ndarray, alignment: dict[str, object]) -> np.ndarray:
    """The held-out probabilities with the alignment's offset taken back out (it is one log-odds number)."""
    from scipy.special import expit, logit

    offset = float(alignment["offset"]) if alignment["applied"] else 0.0  # type: ignore[arg-type]
    return np.asarray(expit(logit(np.clip(p, 1e-12, 1 - 1e-12)) - offset))


@pytest.mark.slow
def test_a_rise_learnt_by_the_refitted_model_is_not_counted_twice_by_its_calibration() -> None:
    fast = {"naive_bayes": NaiveBayesScorer(), "logistic": LogisticScorer()}
    aligned, plain = [], []
    walked: dict[str, list[tuple[float, float]]] = {"aligned": [], "plain": []}
    for seed in range(3):
        frame = _late_campaign(5000, seed)
        result = train(frame, "converted", split="time", candidates=fast, seed=0)
        alignment = result.artifact.metadata["calibration"]["alignment"]
        assert alignment["applied"] and alignment["offset"] < 0, alignment
        assert any(n.startswith("calibration aligned to the refitted model: ") for n in result.notes)
        assert result.report()["calibration_alignment"] == alignment
        y, p = result.heldout_y, result.heldout_p
        aligned.append(_log_loss(y, p))
        plain.append(_log_loss(y, _without_alignment(p, alignment)))
        # the test period recalibrated every eighth: the first eighth is scored as trained, and with the
        # rate counted twice its leads would be set above the later, recalibrated ones
        unaligned = copy.deepcopy(result.artifact)
        unaligned.calibrator.offset_ = float(getattr(unaligned.calibrator, "offset_", 0.0)) - alignment["offset"]
        later = frame.iloc[len(frame) - len(y) :].reset_index(drop=True)
        for name, artifact in (("aligned", result.artifact), ("plain", unaligned)):
            m = walk_forward(artifact, later, 8)["metrics"]
            walked[name].append((float(m.roc_auc or 0.0), m.ece))
    assert np.mean(aligned) < np.mean(plain) - 0.01
    (auc, ece), (auc_plain, ece_plain) = np.mean(walked["aligned"], axis=0), np.mean(walked["plain"], axis=0)
    assert auc > auc_plain + 0.004 and ece < ece_plain


@pytest.mark.slow
def test_the_calibration_is_left_alone_when_the_rate_holds_and_without_a_time_split() -> None:
    fast = {"naive_bayes": NaiveBayesScorer(), "logistic": LogisticScorer()}
    applied = 0
    for seed in range(4):
        result = train(make_leads(5000, seed=seed), "converted", split="time", candidates=fast, seed=0)
        alignment = result.artifact.metadata["calibration"]["alignment"]
        # no rise to count twice: a small offset at most, kept only when beyond the noise, and then it
        # reconciles the refitted model with its curve without costing the later leads anything
        assert abs(alignment["offset"]) < 0.35, alignment
        y, p = result.heldout_y, result.heldout_p
        assert _log_loss(y, p) <= _log_loss(y, _without_alignment(p, alignment)) + 0.002
        applied += bool(alignment["applied"])
        if not alignment["applied"]:
            assert "kept as fitted" in alignment["why"]
    assert applied <= 2
    stratified = train(make_leads(1500, seed=1), "converted", split="stratified", candidates=fast, seed=0)
    assert stratified.artifact.metadata["calibration"]["alignment"] == {}
