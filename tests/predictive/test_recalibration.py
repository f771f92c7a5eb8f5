"""Recalibration on recent outcomes keeps the ranking and moves the probabilities (recalibration.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.predictive import artifact as artifacts
from leadscore.predictive.errors import DataError
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.recalibration import recalibrate
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
