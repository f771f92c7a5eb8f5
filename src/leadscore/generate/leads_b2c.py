"""b2c leads: a shoe shop's customers and subscribers, with demographics."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from leadscore.generate import vocab_b2b
from leadscore.generate import vocab_b2c as V
from leadscore.generate.calendar import Calendar
from leadscore.generate.cohort import Cohort, created_times
from leadscore.generate.frame import TIMESTAMP
from leadscore.generate.propensity import B2C_AGE_FIT, B2C_FIT, FIT_NOISE, banded
from leadscore.generate.rand import pick

_CITY_START = np.cumsum([0] + [len(c) for c in V.CITIES.values()])[:-1]
_CITY_COUNT = np.array([len(c) for c in V.CITIES.values()])


def make_leads(
    rng: np.random.Generator, seed: int, first: int, ids: pa.Array, n_leads: int, cal: Calendar
) -> Cohort:
    n = len(ids)
    age = np.clip(rng.normal(38, 13, n), 16, 85).astype(np.int64)
    gender = pick(rng.random(n), V.GENDER_WEIGHTS)
    country = pick(rng.random(n), V.COUNTRY_WEIGHTS)
    city = _CITY_START[country] + (rng.random(n) * _CITY_COUNT[country]).astype(np.int64)
    loyal = rng.random(n) < 0.25
    first_name = rng.integers(0, len(vocab_b2b.FIRST_NAMES), n)
    last_name = rng.integers(0, len(vocab_b2b.LAST_NAMES), n)
    domain = rng.integers(0, len(V.MAIL_DOMAINS), n)
    # The lead number keeps addresses unique, as a shop's customer base requires.
    email = [f"{vocab_b2b.FIRST_NAMES[f]}.{vocab_b2b.LAST_NAMES[la]}{(first + i + 1) % 1000}@{V.MAIL_DOMAINS[d]}"
             for i, (f, la, d) in enumerate(zip(first_name.tolist(), last_name.tolist(), domain.tolist(),
                                                strict=True))]
    created = created_times(rng, n, cal.start, cal.end)

    country_fit = np.array([B2C_FIT["country"].get(c, B2C_FIT["country"]["other"]) for c in V.COUNTRIES])
    fit = (
        np.where(loyal, B2C_FIT["loyalty_member"]["true"], B2C_FIT["loyalty_member"]["false"])
        + np.array([B2C_FIT["gender"][g] for g in V.GENDERS])[gender]
        + country_fit[country]
        + banded(age, B2C_AGE_FIT)
        + rng.normal(0.0, FIT_NOISE, n)
    )
    intent = rng.normal(0.0, 1.0, n)
    table = pa.table({
        "id": ids,
        "email": pa.array(email, pa.string()),
        "age": pa.array(age, pa.int64()),
        "gender": pa.array(np.asarray(V.GENDERS, dtype=object)[gender], pa.string()),
        "city": pa.array(np.asarray(V.CITY_LIST, dtype=object)[city], pa.string()),
        "country": pa.array(np.asarray(V.COUNTRIES, dtype=object)[country], pa.string()),
        "loyalty_member": pa.array(loyal, pa.bool_()),
        "created_at": pa.array(created * 1_000_000, TIMESTAMP),
    })
    return Cohort(ids=ids, table=table, created=created, fit=fit, intent=intent, traits={"loyal": loyal})
