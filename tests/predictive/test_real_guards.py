"""The issue's observations on the real shared data (skipped when it is absent)."""

from __future__ import annotations

import pytest

from leadscore.predictive.errors import DataError
from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.scoring import evaluate
from leadscore.predictive.table import read_table
from leadscore.predictive.training import train
from tests.predictive.conftest import shared_file


def _fast() -> dict[str, object]:
    return {"naive_bayes": NaiveBayesScorer(), "logistic": LogisticScorer()}


@pytest.mark.slow
def test_bank_evaluation_on_its_training_rows_is_refused_and_later_rows_are_held_out() -> None:
    frame = read_table(shared_file("bank_full.csv"))
    early, later = frame.iloc[:6000], frame.iloc[30_000:32_000]
    model = train(early, "y", exclude=["duration"], split="stratified", candidates=_fast()).artifact
    with pytest.raises(DataError, match="rows the model was trained on"):
        evaluate(model, early)
    assert evaluate(model, later).heldout


@pytest.mark.slow
def test_online_shoppers_page_values_is_questioned() -> None:
    frame = read_table(shared_file("online_shoppers_intention.csv"))
    result = train(frame.iloc[:4000], "Revenue", split="time", candidates=_fast())
    assert any("PageValues" in w and "--exclude PageValues" in w for w in result.warnings)
