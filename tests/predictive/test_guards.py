"""The mistakes a hurried user makes, each now caught with a clear message (src/leadscore/predictive/guards.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from leadscore.cli.main import app
from leadscore.predictive.errors import DataError
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.gbm import LightGBMScorer
from leadscore.predictive.guards import check_inputs, suggest
from leadscore.predictive.scoring import evaluate, predict
from leadscore.predictive.training import train
from tests.predictive.conftest import make_leads

runner = CliRunner()


def _fast() -> dict[str, object]:
    return {
        "naive_bayes": NaiveBayesScorer(),
        "logistic": LogisticScorer(),
        "lightgbm": LightGBMScorer(n_estimators=40),
    }


# the tests of `model` and `model_file` on one xdist worker: spread over both, each worker trained them
GUARDS_GROUP = pytest.mark.xdist_group("predictive-guards")


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return train(make_leads(), "converted", split="stratified", candidates=_fast()).artifact


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("guards")
    data, fresh, out = folder / "leads.csv", folder / "fresh.csv", folder / "m.lsm"
    make_leads().to_csv(data, index=False)
    make_leads(600, seed=9).to_csv(fresh, index=False)
    result = runner.invoke(
        app, ["train", str(data), "--label", "converted", "--split", "stratified", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return data, fresh, out


@GUARDS_GROUP
def test_evaluate_on_the_training_rows_is_refused_and_never_called_held_out(model) -> None:  # type: ignore[no-untyped-def]
    training_rows = make_leads()
    with pytest.raises(DataError, match=r"1,500 of 1,500 rows \(100%\) are rows the model was trained on"):
        evaluate(model, training_rows)
    forced = evaluate(model, training_rows, allow_training_rows=True)
    assert not forced.heldout and "NOT held-out" in forced.warnings[0]
    assert forced.report()["heldout"] is False
    fresh = evaluate(model, make_leads(600, seed=9))
    assert fresh.heldout and fresh.overlap is not None and fresh.overlap.training_rows < 30


@GUARDS_GROUP
def test_cli_evaluate_on_training_file_says_so_and_the_flag_labels_the_figures(
    model_file: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    data, fresh, out = model_file
    refused = runner.invoke(app, ["evaluate", str(out), str(data)])
    assert refused.exit_code == 2 and "--allow-training-rows" in refused.output
    assert str(data) in refused.output and "Traceback" not in refused.output
    html = tmp_path / "e.html"
    forced = runner.invoke(app, ["evaluate", str(out), str(data), "--allow-training-rows", "--html", str(html)])
    assert forced.exit_code == 0, forced.output
    assert "NOT held-out" in forced.output and "Held-out metrics" not in forced.output
    assert "NOT held-out" in html.read_text() and "<h2>Held-out metrics</h2>" not in html.read_text()
    honest = runner.invoke(app, ["evaluate", str(out), str(fresh)])
    assert honest.exit_code == 0 and "Held-out metrics on fresh.csv" in honest.output


@GUARDS_GROUP
def test_missing_and_renamed_columns_are_errors_naming_them(model) -> None:  # type: ignore[no-untyped-def]
    rows = make_leads(300, seed=3).drop(columns=["converted"])
    renamed = rows.rename(columns={"visits": "Visits", "source": "lead source"}).drop(columns=["employees"])
    with pytest.raises(DataError) as caught:
        predict(model, renamed)
    message = str(caught.value)
    assert "'visits' (found 'Visits': rename it)" in message
    assert "'employees'" in message and "--allow-missing" in message
    assert "\n" not in message
    check = check_inputs(model, renamed, allow_missing=True)
    assert check.missing == ["employees", "source", "visits"]
    assert "of the model's weight" in check.warnings[0] and "lower AUC" in check.warnings[0]
    assert len(predict(model, renamed, allow_missing=True)) == 300


@GUARDS_GROUP
def test_unseen_categories_are_counted_in_a_note(model) -> None:  # type: ignore[no-untyped-def]
    rows = make_leads(200, seed=4).drop(columns=["converted"])
    rows.loc[rows.index[:7], "source"] = "tradeshow"
    notes = check_inputs(model, rows).notes
    assert any(n.startswith("source: 7 row(s) with 1 value(s)") and "'tradeshow'" in n for n in notes)


@GUARDS_GROUP
def test_cli_predict_missing_column_is_one_line_and_allow_missing_warns(
    model_file: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, fresh, out = model_file
    broken = tmp_path / "broken.csv"
    pd.read_csv(fresh).rename(columns={"source": "Source"}).to_csv(broken, index=False)
    result = runner.invoke(app, ["predict", str(out), str(broken), "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and str(broken) in lines[0] and "found 'Source'" in lines[0]
    ok = runner.invoke(app, ["predict", str(out), str(broken), "--out", str(tmp_path / "s.csv"), "--allow-missing"])
    assert ok.exit_code == 0 and "warning: scoring without 'source'" in ok.output


def test_bad_input_files_are_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b,converted\n")
    one_class = tmp_path / "one.csv"
    make_leads().assign(converted="yes").to_csv(one_class, index=False)
    data = tmp_path / "leads.csv"
    make_leads().to_csv(data, index=False)
    cases = [
        ([str(header_only), "--label", "converted"], "no data rows"),
        ([str(one_class), "--label", "converted"], "only one outcome"),
        ([str(data), "--label", "Converted"], "did you mean 'converted'?"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["train", *args, "--out", str(tmp_path / "m.lsm")])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1, result.output
        assert args[0] in lines[0] and message in lines[0] and "Traceback" not in result.output


def test_suggest_finds_case_spacing_and_spelling() -> None:
    columns = ["Lead Source", "converted", "page_views"]
    assert suggest("lead_source", columns) == "Lead Source"
    assert suggest("Converted", columns) == "converted"
    assert suggest("page_view", columns) == "page_views"
    assert suggest("revenue", columns) is None
