"""The commands as a user runs them (src/leadscore/cli/predictive.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app
from tests.predictive.conftest import make_city_leads, make_leads

runner = CliRunner()


# the tests of `trained` on one xdist worker: spread over both, each worker trained it (a whole tournament)
TRAINED_GROUP = pytest.mark.xdist_group("predictive-trained")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    data = folder / "leads.csv"
    make_leads().to_csv(data, index=False)
    out = folder / "model.lsm"
    result = runner.invoke(app, ["train", str(data), "--label", "converted", "--split", "time", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_train_prints_tournament_writes_artifact_report_and_html(tmp_path: Path, leads_csv: Path) -> None:
    out, report, html = tmp_path / "m.lsm", tmp_path / "metrics.json", tmp_path / "report.html"
    args = ["train", str(leads_csv), "--label", "converted", "--exclude", "email", "--time", "signup_date"]
    args += ["--segment", "source", "--out", str(out), "--report", str(report), "--html", str(html)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Tournament" in result.output and "chosen" in result.output
    assert "dropped column lead_id: id-like" in result.output
    metrics = json.loads(report.read_text())
    for key in ("roc_auc", "pr_auc", "log_loss", "brier", "chosen_model", "split"):
        assert key in metrics
    assert metrics["split"].startswith("time (column signup_date)")
    assert out.exists() and "<svg" in html.read_text()
    # the base rates of the training periods against the mean predicted for the test period
    rates = metrics["base_rates"]
    assert len(rates["training_periods"]) == 5 and rates["actual_scoring"] == metrics["base_rate"]
    assert "base rate over the training part by period" in " ".join(result.output.split())


@TRAINED_GROUP
def test_predict_writes_scores_with_factors_in_each_format(tmp_path: Path, trained: Path, leads_csv: Path) -> None:
    for suffix in (".csv", ".jsonl", ".parquet"):
        out = tmp_path / f"scores{suffix}"
        result = runner.invoke(app, ["predict", str(trained), str(leads_csv), "--out", str(out), "--top", "2"])
        assert result.exit_code == 0, result.output
    csv = pd.read_csv(tmp_path / "scores.csv")
    assert len(csv) == 1500 and csv["score"].between(0, 1).all()
    rows = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert len(rows[0]["top_positive"]) <= 2 and isinstance(rows[0]["top_negative"], list)
    assert len(pd.read_parquet(tmp_path / "scores.parquet")) == 1500


@TRAINED_GROUP
def test_evaluate_compare_and_live(tmp_path: Path, trained: Path, leads_csv: Path) -> None:
    report = tmp_path / "eval.json"
    heldout = tmp_path / "heldout.csv"
    pd.read_csv(leads_csv).tail(300).to_csv(heldout, index=False)  # the time split's test rows
    result = runner.invoke(
        app, ["evaluate", str(trained), str(heldout), "--compare", str(trained), "--report", str(report),
              "--html", str(tmp_path / "e.html")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(report.read_text())
    assert len(payload["models"]) == 2
    # today's leads from the training period itself: nothing has drifted (the whole file would add
    # November and December, months the training part never saw)
    today = tmp_path / "today.csv"
    pd.read_csv(leads_csv).head(1200).to_csv(today, index=False)
    live = runner.invoke(app, ["evaluate", str(trained), str(today), "--live"])
    assert live.exit_code == 0, live.output
    assert "Drift against training" in live.output and "no retraining needed" in live.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "missing.csv", "--label", "y"], "no such file"),
        (["train", "{data}", "--label", "nope"], "unknown column"),
        (["train", "{data}", "--label", "source"], "not binary"),
        (["predict", "{model}", "{data}", "--out", "x.txt"], "unknown output format"),
        (["evaluate", "{data}", "{data}"], "not a leadscore model artifact"),
    ],
)
@TRAINED_GROUP
def test_user_errors_exit_2_without_traceback(
    tmp_path: Path, trained: Path, leads_csv: Path, args: list[str], message: str
) -> None:
    filled = [a.format(data=leads_csv, model=trained) for a in args]
    result = runner.invoke(app, filled)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.integration
@pytest.mark.slow
def test_real_process_trains_and_predicts(tmp_path: Path, leads_csv: Path) -> None:
    model = tmp_path / "m.lsm"
    cmd = [sys.executable, "-m", "leadscore.cli.main"]
    done = subprocess.run(
        [*cmd, "train", str(leads_csv), "--label", "converted", "--split", "time", "--out", str(model)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    bad = subprocess.run([*cmd, "train", str(leads_csv), "--label", "notes"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "notes" in bad.stderr


def test_train_checks_a_given_target_population(tmp_path: Path, leads_csv: Path) -> None:
    """`--target` gives today's leads to check for a population shift; a table lacking features is refused."""
    frame = pd.read_csv(leads_csv)
    target = tmp_path / "today.csv"
    frame.drop(columns=["converted"]).tail(200).to_csv(target, index=False)
    args = ["train", str(leads_csv), "--label", "converted", "--split", "time", "--out", str(tmp_path / "m.lsm")]
    result = runner.invoke(app, [*args, "--target", str(target)])
    assert result.exit_code == 0, result.output
    broken = tmp_path / "broken.csv"
    frame[["converted"]].to_csv(broken, index=False)
    result = runner.invoke(app, [*args, "--target", str(broken)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_train_shows_the_category_treatment_and_recency_weighting_chosen(tmp_path: Path) -> None:
    data, out, report = tmp_path / "cities.csv", tmp_path / "m.lsm", tmp_path / "r.json"
    make_city_leads(5000, 11).to_csv(data, index=False)
    args = ["train", str(data), "--label", "converted", "--split", "time", "--out", str(out), "--report", str(report)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps long notes
    assert "high-cardinality columns city" in text and "target-encoded out of fold" in text
    assert "recency weighting" in text
    metrics = json.loads(report.read_text())
    assert metrics["feature_treatment"]["kind"] == "target"
    aucs = metrics["feature_treatment"]["validation_auc"]
    assert aucs["target"] > aucs["other"]
    assert metrics["recency_weighting"]["tried"] == [0.5, 0.2]
    assert "why" in metrics["recency_weighting"]
