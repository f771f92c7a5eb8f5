"""Recalibration on recent outcomes keeps the ranking and moves the probabilities (recalibration.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.predictive import artifact as artifacts
from leadscore.predictive.calibration import Calibrator
from leadscore.predictive.errors import DataError
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.metrics import compute_metrics
from leadscore.predictive.recalibration import backtest, recalibrate, walk_forward
from leadscore.predictive.scoring import probabilities
from leadscore.predictive.training import train
from tests.predictive.conftest import make_leads


def _recent_with_a_higher_rate(seed: int = 11) -> pd.DataFrame:
    """New leads that convert more often than the training ones (a campaign): flip a third of the noes."""
    rng = np.random.default_rng(seed)
    recent = make_leads(800, seed=seed)
    flip = (recent["converted"] == "no") & (rng.random(len(recent)) < 0.35)
    recent.loc[flip, "converted"] = "yes"
    return recent


def test_recalibration_moves_the_mean_to_the_recent_rate_and_keeps_the_ranking(tmp_path: Path) -> None:
    fast = {"naive_bayes": NaiveBayesScorer(), "logistic": LogisticScorer()}
    model = train(make_leads(), "converted", split="stratified", candidates=fast).artifact
    recent = _recent_with_a_higher_rate()
    rate = float((recent["converted"] == "yes").mean())
    before = probabilities(model, recent)
    new, summary = recalibrate(model, recent)
    after = probabilities(new, recent)
    assert abs(before.mean() - rate) > 0.1
    assert abs(after.mean() - rate) < 0.02
    assert summary["log_loss_after"] < summary["log_loss_before"]
    assert np.array_equal(np.argsort(before, kind="stable"), np.argsort(after, kind="stable"))
    with pytest.raises(DataError, match="trained on"):
        recalibrate(model, make_leads())
    # through the command: a new file, never the input artifact
    src, data, out = tmp_path / "m.lsm", tmp_path / "recent.csv", tmp_path / "m2.lsm"
    artifacts.save(model, src)
    recent.to_csv(data, index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["recalibrate", str(src), str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert artifacts.load(out).metadata["calibration"]["recalibrated"]["rows"] == 800
    same = runner.invoke(app, ["recalibrate", str(src), str(data), "--out", str(src)])
    assert same.exit_code == 2 and "new file" in same.output


def _drifting(n: int, seed: int, slope_from: float, slope_to: float, rate_from: float, rate_to: float):
    """Scores in time order whose true log-odds are slope(t) * score + offset(t), both moving linearly."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n)
    scores = rng.normal(0, 1, n)
    logit = (slope_from + (slope_to - slope_from) * t) * scores + rate_from + (rate_to - rate_from) * t
    return scores, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def test_a_shift_moves_the_curve_to_the_recent_rate_and_keeps_its_shape() -> None:
    scores, y = _drifting(4000, 1, 1.0, 1.0, -2.0, -2.0)
    for method in ("sigmoid", "isotonic"):
        cal = Calibrator(method).fit(scores, y)
        recent_scores, recent_y = _drifting(2000, 2, 1.0, 1.0, 0.0, 0.0)  # the same ranking, a higher rate
        moved = cal.shifted(recent_scores, recent_y)
        after = moved.predict(recent_scores)
        assert abs(after.mean() - recent_y.mean()) < 0.005
        assert cal.predict(recent_scores).mean() < recent_y.mean() - 0.15
        order = np.argsort(recent_scores)
        assert np.all(np.diff(after[order]) >= 0)  # the ranking is kept
        # the same move for every lead on the log-odds scale: the curve's shape is the validated one
        logits = np.log(after / (1 - after)) - np.log(cal.predict(recent_scores) / (1 - cal.predict(recent_scores)))
        inside = (cal.predict(recent_scores) > 0.01) & (cal.predict(recent_scores) < 0.99)
        assert np.ptp(logits[inside]) < 1e-6
        # shifting an already shifted curve lands at the new rate again, not at the sum of both moves
        again = moved.shifted(*_drifting(2000, 3, 1.0, 1.0, -2.0, -2.0))
        assert abs(again.predict(scores).mean() - y.mean()) < 0.01


def test_the_backtest_recommends_a_shift_when_only_the_rate_moves() -> None:
    chosen = [backtest(*_drifting(1200, seed, 1.0, 1.0, -2.5, -0.5))["method"] for seed in range(12)]
    assert chosen.count("shift") >= 8, chosen


def test_the_backtest_recommends_a_new_sigmoid_when_the_scores_grow_more_telling() -> None:
    chosen = [backtest(*_drifting(1200, seed, 0.3, 2.5, -1.5, -1.5))["method"] for seed in range(12)]
    assert chosen.count("sigmoid") >= 10, chosen
    result = backtest(*_drifting(1200, 0, 0.3, 2.5, -1.5, -1.5))
    assert result["log_loss"]["sigmoid"] < result["log_loss"]["shift"]
    assert "refitted sigmoid" in result["why"]
    # an isotonic trained curve is shifted as steps moved on the log-odds scale: the same verdict here
    stepped = backtest(*_drifting(1200, 0, 0.3, 2.5, -1.5, -1.5), curve="isotonic")
    assert stepped["method"] == "sigmoid" and stepped["log_loss"]["shift"] != result["log_loss"]["shift"]


def test_the_backtest_needs_outcomes_in_every_part() -> None:
    scores, y = _drifting(120, 0, 1.0, 1.0, -4.0, -4.0)  # 30 rows a part, hardly a conversion
    result = backtest(scores, y)
    assert result["method"] == "sigmoid" and "too few" in result["why"]


def _ordered_leads(n: int, seed: int) -> pd.DataFrame:
    """Leads in time order whose conversion rate climbs through the file (a campaign takes off)."""
    frame = make_leads(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    late = (frame["converted"] == "no") & (rng.random(n) < np.linspace(0, 0.4, n))
    frame.loc[late, "converted"] = "yes"
    return frame


def test_a_time_split_records_the_recommended_method_and_recalibrate_follows_it(tmp_path: Path) -> None:
    frame = _ordered_leads(4000, seed=5)
    fast = {"naive_bayes": NaiveBayesScorer(), "logistic": LogisticScorer()}
    result = train(frame.iloc[:3000], "converted", split="time", candidates=fast, seed=0)
    advice = result.artifact.metadata["calibration"]["recalibration"]
    assert advice["method"] in ("sigmoid", "shift") and set(advice["log_loss"]) == {"sigmoid", "shift"}
    assert any(n.startswith(f"recalibration: {advice['method']} recommended") for n in result.notes)
    assert result.report()["recalibration"] == advice
    recent = frame.iloc[3000:]
    rate = float((recent["converted"] == "yes").mean())
    before = probabilities(result.artifact, recent)
    _, summary = recalibrate(result.artifact, recent)
    assert summary["method"] == advice["method"]
    for method in ("shift", "sigmoid"):
        other, summary = recalibrate(result.artifact, recent, method)  # type: ignore[arg-type]
        after = probabilities(other, recent)
        assert summary["method"] == method and abs(after.mean() - rate) < 0.01 < abs(before.mean() - rate)
        assert np.array_equal(np.argsort(before, kind="stable"), np.argsort(after, kind="stable"))
    with pytest.raises(DataError, match="unknown recalibration method 'steep'"):
        recalibrate(result.artifact, recent, "steep")  # type: ignore[arg-type]
    # the method survives saving, and the command takes --method
    src, data, out = tmp_path / "m.lsm", tmp_path / "recent.csv", tmp_path / "m2.lsm"
    artifacts.save(result.artifact, src)
    recent.to_csv(data, index=False)
    ran = CliRunner().invoke(app, ["recalibrate", str(src), str(data), "--out", str(out), "--method", "shift"])
    assert ran.exit_code == 0, ran.output
    assert "recalibrated (shift)" in ran.output
    loaded = artifacts.load(out)
    assert loaded.metadata["calibration"]["recalibrated"]["method"] == "shift"
    assert abs(probabilities(loaded, recent).mean() - rate) < 0.01
    bad = CliRunner().invoke(app, ["recalibrate", str(src), str(data), "--out", str(out), "--method", "steep"])
    assert bad.exit_code == 2 and "unknown recalibration method" in bad.output and "Traceback" not in bad.output


def test_walk_forward_follows_a_climbing_rate_and_keeps_the_ranking_inside_each_part() -> None:
    frame = _ordered_leads(4000, seed=6)
    fast = {"naive_bayes": NaiveBayesScorer(), "logistic": LogisticScorer()}
    model = train(frame.iloc[:2400], "converted", split="time", candidates=fast, seed=0).artifact
    later = frame.iloc[2400:].reset_index(drop=True)
    y = (later["converted"] == "yes").to_numpy().astype(int)
    static = probabilities(model, later)
    run = walk_forward(model, later, 8, "sigmoid")
    p = run["probabilities"]
    assert run["method"] == "sigmoid" and len(p) == len(later)
    # the first part is scored as trained; every later one is nearer its own rate than the static scores
    first = np.array_split(np.arange(len(later)), 8)[0]
    assert np.allclose(p[first], static[first])
    assert run["metrics"].ece < compute_metrics(y, static).ece
    assert abs(p.mean() - y.mean()) < abs(static.mean() - y.mean())
    for idx in np.array_split(np.arange(len(later)), 8):  # monotone inside a part: the same order
        assert np.array_equal(np.argsort(static[idx], kind="stable"), np.argsort(p[idx], kind="stable"))
    within = [compute_metrics(y[idx], static[idx]).roc_auc for idx in np.array_split(np.arange(len(later)), 8)]
    assert run["auc_within_parts"] == pytest.approx(float(np.mean(within)))
    assert walk_forward(model, later, 8)["method"] == model.metadata["calibration"]["recalibration"]["method"]
    with pytest.raises(DataError, match="label column 'converted' is missing"):
        walk_forward(model, later.drop(columns=["converted"]), 8)
