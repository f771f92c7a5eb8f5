from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.predictive.leakage import leakage_warnings


def test_a_column_that_gives_the_outcome_away_is_named() -> None:
    rng = np.random.default_rng(6)
    y = (rng.random(3000) < 0.2).astype(int)
    X = pd.DataFrame(
        {
            "won_amount": np.where(y == 1, rng.uniform(100, 200, 3000), 0.0),
            "visits": rng.poisson(3, 3000) + y,
            "tier": pd.Categorical(rng.choice(["a", "b"], 3000)),
        }
    )
    warnings = leakage_warnings(X, y)
    assert list(warnings) == ["won_amount"]
    assert "--exclude won_amount" in warnings["won_amount"]


def test_honest_columns_raise_nothing() -> None:
    rng = np.random.default_rng(7)
    y = (rng.random(3000) < 0.3).astype(int)
    X = pd.DataFrame({"a": rng.normal(size=3000) + 0.5 * y, "b": rng.normal(size=3000) + 0.4 * y})
    assert leakage_warnings(X, y) == {}
