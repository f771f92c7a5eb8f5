"""Small synthetic lead tables with a known signal, and the real shared data when it is there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SHARED_DATA


def make_leads(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Leads whose conversion depends on source, visits and company size, plus the mess a CRM export has."""
    rng = np.random.default_rng(seed)
    source = rng.choice(["ads", "webinar", "referral", "organic"], n, p=[0.4, 0.2, 0.1, 0.3])
    visits = rng.poisson(3, n).astype(float)
    employees = np.exp(rng.normal(4, 1.2, n)).round()
    logit = -2.0 + 1.5 * (source == "referral") + 0.8 * (source == "webinar") + 0.35 * visits
    logit += 0.3 * np.log1p(employees) - 1.2
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    visits[rng.random(n) < 0.05] = np.nan
    signup = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 365, n)), unit="D")
    return pd.DataFrame(
        {
            "lead_id": np.arange(10_000, 10_000 + n),
            "email": [f"user{i}@{d}" for i, d in enumerate(rng.choice(["gmail.com", "acme.com", "corp.io"], n))],
            "source": source,
            "visits": visits,
            "employees": employees,
            "country": "FR",
            "notes": [f"called on day {i} and left a message about pricing" for i in range(n)],
            "signup_date": signup.strftime("%Y-%m-%d"),
            "converted": np.where(converted, "yes", "no"),
        }
    )


def make_city_leads(n: int, seed: int, signal: float = 1.0, cities: int = 400) -> pd.DataFrame:
    """Leads from `cities` cities (a long tail: most have a handful of leads), whose conversion depends
    on the city (with weight `signal`) and on the number of visits."""
    rng = np.random.default_rng(seed)
    popularity = 1 / np.arange(1, cities + 1) ** 0.8
    city = rng.choice(cities, n, p=popularity / popularity.sum())
    effect = np.random.default_rng(99).normal(0, 1.2, cities)  # the same cities in every sample
    visits = rng.poisson(3, n).astype(float)
    logit = -2.0 + signal * effect[city] + 0.3 * visits
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {"city": [f"city-{c}" for c in city], "visits": visits, "converted": np.where(converted, "yes", "no")}
    )


@pytest.fixture()
def leads() -> pd.DataFrame:
    return make_leads()


@pytest.fixture()
def leads_csv(tmp_path: Path, leads: pd.DataFrame) -> Path:
    path = tmp_path / "leads.csv"
    leads.to_csv(path, index=False)
    return path


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data {name} not present in {SHARED_DATA}")
    return path
