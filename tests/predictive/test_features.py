from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.predictive.features import infer_schema


def test_messy_columns_are_dropped_or_derived_with_reasons(leads: pd.DataFrame) -> None:
    schema = infer_schema(leads.drop(columns=["converted"]))
    assert schema.dropped["lead_id"].startswith("id-like")
    assert schema.dropped["country"] == "constant"
    assert schema.dropped["notes"].startswith("free text")
    assert "email_domain" in schema.names
    assert {"signup_date_month", "signup_date_weekday", "signup_date_trend"} <= set(schema.names)
    assert schema.kinds()["source"] == "categorical"
    assert schema.kinds()["visits"] == "numeric"


def test_transform_applies_training_categories_to_new_rows(leads: pd.DataFrame) -> None:
    schema = infer_schema(leads.drop(columns=["converted"]))
    new = leads.head(3).copy()
    new.loc[new.index[0], "source"] = "tradeshow"  # never seen in training
    new = new.drop(columns=["employees"])  # an optional column missing from the scoring file
    X = schema.transform(new)
    assert pd.isna(X["source"].iloc[0])  # no rare values in training, so no "other" bucket: unknown
    assert X["source"].iloc[1] == leads["source"].iloc[1]
    assert X["employees"].isna().all()
    assert list(X.columns) == schema.names


def test_days_before_uses_the_time_column() -> None:
    frame = pd.DataFrame(
        {
            "created": ["2024-01-01", "2024-02-01", "2024-03-01"] * 10,
            "seen": ["2024-01-11", "2024-02-03", "2024-03-31"] * 10,
            "x": np.arange(30.0) % 7,
        }
    )
    schema = infer_schema(frame, time_column="seen")
    X = schema.transform(frame)
    assert X["created_days_before"].tolist()[:3] == [10.0, 2.0, 30.0]
    assert "seen" not in schema.names


def test_numbers_with_decimal_commas_and_junk_do_not_crash() -> None:
    frame = pd.DataFrame({"amount": ["1,5", "2,0", "n/a", "3,25"] * 20, "tier": ["a", "b", None, "a"] * 20})
    schema = infer_schema(frame)
    X = schema.transform(frame)
    assert X["amount"].iloc[0] == 1.5 and X["amount"].iloc[3] == 3.25
    assert np.isnan(X["amount"].iloc[2])
    assert X["tier"].isna().sum() == 20
