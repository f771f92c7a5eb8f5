from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.predictive.leakage import leakage_warnings
from leadscore.predictive.leakage_groups import group_warnings


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


def _sales_fields(n: int = 4000, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """Honest columns of modest strength, plus three fields sales fills in after contact: each fairly
    predictive alone, together close to the outcome, and mostly empty for leads that did not convert."""
    rng = np.random.default_rng(seed)
    visits = rng.poisson(3, n).astype(float)
    source = rng.choice(["ads", "web", "referral"], n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2.2 + 0.3 * visits + 0.8 * (source == "referral"))))).astype(int)

    def field(values_pos: list[str], values_neg: list[str], fill_pos: float, fill_neg: float) -> pd.Categorical:
        pos = rng.choice(values_pos, n)
        neg = rng.choice(values_neg, n)
        out = np.where(y == 1, pos, neg).astype(object)
        filled = rng.random(n) < np.where(y == 1, fill_pos, fill_neg)
        out[~filled] = None
        return pd.Categorical(out)

    X = pd.DataFrame(
        {
            "visits": visits,
            "source": pd.Categorical(source),
            "lead_quality": field(["high", "high", "might be", "low"], ["low", "might be", "worst", "high"], 0.8, 0.35),
            "lead_profile": field(["potential", "potential", "other"], ["other", "student", "potential"], 0.7, 0.4),
            "last_activity": field(["sms", "sms", "email", "call"], ["email", "modified", "call", "sms"], 0.9, 0.6),
        }
    )
    return X, y


def test_columns_that_leak_only_together_are_named_with_an_exclude_hint() -> None:
    X, y = _sales_fields()
    assert all(v < 0.95 for v in leakage_warnings(X, y).values())  # no single column gives it away
    warnings = group_warnings(X, y, seed=1)
    text = " | ".join(warnings)
    for name in ("lead_quality", "lead_profile", "last_activity"):
        assert name in text and f"--exclude {name}" in text
    assert any(w.startswith("together, ") for w in warnings)
    assert any("has a value for" in w and "of converted leads" in w for w in warnings)
    assert "visits" not in text and "source" not in text


def test_a_column_empty_in_the_latest_rows_is_named_when_rows_are_in_time_order() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    y = (rng.random(n) < 0.2).astype(int)
    stage = np.where(rng.random(n) < 0.5, "a", "b").astype(object)
    stage[-300:] = None  # the newest leads have not been worked yet
    X = pd.DataFrame({"x": rng.normal(size=n) + 0.5 * y, "stage": pd.Categorical(stage)})
    warnings = group_warnings(X, y, ordered=True)
    assert any(w.startswith("stage has a value for") and "after the outcome window" in w for w in warnings)
    assert not any("stage" in w for w in group_warnings(X, y, ordered=False))


def test_honest_columns_raise_no_group_warning() -> None:
    rng = np.random.default_rng(8)
    y = (rng.random(3000) < 0.3).astype(int)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=3000) + 0.5 * y,
            "b": rng.normal(size=3000) + 0.4 * y,
            "c": pd.Categorical(rng.choice(["x", "y", "z"], 3000)),
        }
    )
    assert group_warnings(X, y) == []
