"""Placeholders, rare categories, id codes, dates and numbers in words (features.py, phrasing.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.predictive.estimators import LogisticScorer, NaiveBayesScorer
from leadscore.predictive.features import OTHER, infer_schema
from leadscore.predictive.phrasing import feature_labels
from leadscore.predictive.scoring import predict
from leadscore.predictive.training import train


def _fast() -> dict[str, object]:
    return {"naive_bayes": NaiveBayesScorer(), "logistic": LogisticScorer()}


def _pages(n: int = 4000, seed: int = 1) -> pd.DataFrame:
    """~500 landing pages, most of them rare; answers with the form's "Select" placeholder."""
    rng = np.random.default_rng(seed)
    page = np.where(rng.random(n) < 0.5, rng.integers(0, 20, n), rng.integers(20, 520, n))
    role = rng.choice(["Select", "Manager", "Engineer", "select ", "N/A"], n, p=[0.4, 0.2, 0.2, 0.1, 0.1])
    views = np.where(rng.random(n) < 0.3, 0.0, rng.gamma(2.0, 2.0, n)).round(1)
    logit = -1.0 + 0.25 * views - 0.8 * (page >= 20) + 0.7 * (role == "Manager")
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 400, n)), unit="D")
    return pd.DataFrame(
        {
            "landing_page": [f"lp-{p:04d}" for p in page],
            "role": role,
            "page_views": views,
            "first_contact_date": when.strftime("%Y-%m-%d"),
            "won": np.where(y, "yes", "no"),
        }
    )


def test_placeholders_are_missing_not_a_category() -> None:
    frame = _pages()
    schema = infer_schema(frame.drop(columns=["won"]))
    role = next(f for f in schema.features if f.name == "role")
    assert set(role.categories) == {"Manager", "Engineer"}
    X = schema.transform(frame)
    assert X["role"].isna().sum() == frame["role"].str.strip().str.lower().isin(["select", "n/a"]).sum()
    custom = infer_schema(frame.drop(columns=["won"]), placeholders=("Engineer",))
    assert "Select" in next(f for f in custom.features if f.name == "role").categories


def test_rare_categories_share_an_other_bucket_and_are_never_called_missing() -> None:
    frame = _pages()
    result = train(frame, "won", split="stratified", candidates=_fast())
    page = next(f for f in result.artifact.schema.features if f.name == "landing_page")
    assert page.other and OTHER in page.categories and len(page.categories) <= 101
    X = result.artifact.schema.transform(frame)
    assert X["landing_page"].notna().all()  # every lead has a page: none becomes missing
    out = predict(result.artifact, frame.drop(columns=["won"]), top=5)
    texts = [t for row in [*out["top_positive"], *out["top_negative"]] for t in row]
    assert not any(t.startswith("landing_page is missing") for t in texts)
    assert any(t.startswith("landing_page is a rare value") for t in texts)


def test_repeating_integer_codes_with_an_id_name_are_categories() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"campaign_id": rng.integers(100, 140, 2000), "x": rng.normal(size=2000)})
    schema = infer_schema(frame)
    assert schema.kinds()["campaign_id"] == "categorical"


def test_dates_become_trend_month_and_weekday_names_in_explanations() -> None:
    frame = _pages()
    schema = infer_schema(frame.drop(columns=["won"]))
    assert {"first_contact_date_trend", "first_contact_date_month", "first_contact_date_weekday"} <= set(schema.names)
    X = schema.transform(frame.head(3))
    labels = feature_labels(schema.features, X, {})
    assert labels["first_contact_date_weekday"][0] == "first_contact_date on a Monday"  # 2024-01-01
    assert labels["first_contact_date_month"][0] == "first_contact_date in January"
    assert labels["first_contact_date_trend"][0] == "first_contact_date in 2024-01"


def test_numbers_are_explained_in_ranges_and_zero_as_none() -> None:
    frame = _pages()
    result = train(frame, "won", split="stratified", candidates=_fast())
    artifact = result.artifact
    rows = frame.head(400).drop(columns=["won"])
    X = artifact.schema.transform(rows)
    labels = feature_labels(artifact.schema.features, X, artifact.drift)["page_views"]
    for value, text in zip(rows["page_views"], labels, strict=True):
        if value == 0:
            assert text == "no page_views"
        else:
            assert text.startswith("page_views ") and "=" not in text
            assert "-" in text or "or less" in text or "above" in text
    out = predict(artifact, rows, top=5)
    texts = [t for row in [*out["top_positive"], *out["top_negative"]] for t in row]
    assert not any(t.startswith("page_views = ") for t in texts)
    assert any(t.startswith("no page_views (-") for t in texts)


def test_a_date_trend_is_no_evidence_of_a_population_shift() -> None:
    """On a split by time, future leads lie beyond the training range of the date's trend by construction."""
    result = train(_pages(), "won", split="time", candidates=_fast())
    assert "first_contact_date_trend" in result.artifact.schema.names
    assert result.shift is not None
    assert "first_contact_date_trend" not in result.shift.drivers
    assert "first_contact_date_trend" not in result.shift.outside
