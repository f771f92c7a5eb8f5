from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.predictive.drift import drift_rows, psi, shares_like, summarise_column


def test_psi_is_small_for_the_same_population_and_large_after_a_shift() -> None:
    rng = np.random.default_rng(5)
    train = pd.Series(rng.normal(0, 1, 10_000))
    summary = summarise_column(train)
    same = psi(summary["shares"], shares_like(summary, pd.Series(rng.normal(0, 1, 5000))))
    shifted = psi(summary["shares"], shares_like(summary, pd.Series(rng.normal(1, 1, 5000))))
    assert same < 0.02
    assert shifted > 0.25


def test_categorical_drift_and_ordering() -> None:
    cats = ["a", "b", "c"]
    train = pd.DataFrame({"tier": pd.Categorical(["a"] * 50 + ["b"] * 50, categories=cats)})
    live = pd.DataFrame({"tier": pd.Categorical(["c"] * 80 + ["a"] * 20, categories=cats)})
    rows = drift_rows({"tier": summarise_column(train["tier"])}, live)
    assert rows[0].name == "tier" and rows[0].status == "retrain"
