"""b2b leads: people at companies, with firmographics and a first touch.

Leads share companies (several contacts per account). A company's attributes are a pure function of
(seed, company number), so they agree across chunks without holding a company table in memory.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from leadscore.generate import vocab_b2b as V
from leadscore.generate.calendar import Calendar
from leadscore.generate.cohort import Cohort, created_times, normal_from
from leadscore.generate.frame import TIMESTAMP
from leadscore.generate.propensity import B2B_FIT, B2B_SIZE_FIT, FIT_NOISE, banded
from leadscore.generate.rand import hash_uniform, pick

_STEMS = len(V.NAME_STEMS_A) * len(V.NAME_STEMS_B) * len(V.NAME_STEMS_C)
_NAMES = _STEMS * 5  # stems x industry words
_SMALL_COMPANY_SENIORITY = (0.30, 0.10, 0.15, 0.20, 0.25)
_CAMPAIGN_SOURCES = ("paid", "social", "email", "event")


def _effects(table: dict[str, float], names: tuple[str, ...]) -> np.ndarray:
    return np.array([table[n] for n in names])


def _company_names(seed: int, company: int, industry: int, country: int) -> tuple[str, str]:
    """(company name, domain): unique per company number, through a bijective scramble of the number."""
    base, tail = company % _NAMES, company // _NAMES
    m = (base * 7919 + seed) % _NAMES
    a, m = m % len(V.NAME_STEMS_A), m // len(V.NAME_STEMS_A)
    b, m = m % len(V.NAME_STEMS_B), m // len(V.NAME_STEMS_B)
    c, w = m % len(V.NAME_STEMS_C), m // len(V.NAME_STEMS_C)
    stem = V.NAME_STEMS_A[a] + V.NAME_STEMS_B[b] + V.NAME_STEMS_C[c]
    word = V.INDUSTRY_WORDS[industry][w]
    tail_word = V.NAME_TAILS[tail % len(V.NAME_TAILS)] + (str(tail // len(V.NAME_TAILS) + 1) if tail >= 8 else "")
    _, _, _, tld, form = V.COUNTRIES[country]
    name = " ".join(p for p in (stem.capitalize(), word, tail_word, form) if p)
    return name, f"{stem}{word.lower()}{tail_word.lower()}.{tld}"


def make_leads(
    rng: np.random.Generator, seed: int, first: int, ids: pa.Array, n_leads: int, cal: Calendar
) -> Cohort:
    n = len(ids)
    n_companies = n_leads // 4 + 1
    company = rng.integers(0, n_companies, n)
    industry = pick(hash_uniform(seed, company, 1), V.INDUSTRY_WEIGHTS)
    country = pick(hash_uniform(seed, company, 2), [c[2] for c in V.COUNTRIES])
    z = normal_from(hash_uniform(seed, company, 3), hash_uniform(seed, company, 4))
    employees = np.clip(np.exp(np.log(60) + 1.8 * z), 1, 50_000).astype(np.int64)
    per_employee = np.array(V.REVENUE_PER_EMPLOYEE)[industry]
    spread = np.exp(0.5 * normal_from(hash_uniform(seed, company, 5), hash_uniform(seed, company, 6)))
    revenue = (np.round(employees * per_employee * spread / 1000) * 1000).astype(np.int64)

    names: dict[int, tuple[str, str]] = {}
    for c, ind, ctry in zip(company.tolist(), industry.tolist(), country.tolist(), strict=True):
        if c not in names:
            names[c] = _company_names(seed, c, ind, ctry)
    company_name = [names[c][0] for c in company.tolist()]
    domain = [names[c][1] for c in company.tolist()]

    u = rng.random(n)
    seniority = np.where(employees < 10, pick(u, _SMALL_COMPANY_SENIORITY), pick(u, V.SENIORITY_WEIGHTS))
    department = pick(rng.random(n), V.DEPARTMENT_WEIGHTS)
    first_name = rng.integers(0, len(V.FIRST_NAMES), n)
    last_name = rng.integers(0, len(V.LAST_NAMES), n)
    email = [f"{V.FIRST_NAMES[f]}.{V.LAST_NAMES[la]}@{d}"
             for f, la, d in zip(first_name.tolist(), last_name.tolist(), domain, strict=True)]
    source = pick(rng.random(n), V.SOURCE_WEIGHTS)
    created = created_times(rng, n, cal.start, cal.end)
    campaign = cal.active(created, rng.random(n))
    campaign = np.where(np.isin(source, [V.SOURCES.index(s) for s in _CAMPAIGN_SOURCES]), campaign, -1)
    region = np.array([V.REGIONS.index(c[1]) for c in V.COUNTRIES])[country]

    fit = (
        _effects(B2B_FIT["seniority"], V.SENIORITIES)[seniority]
        + _effects(B2B_FIT["department"], V.DEPARTMENTS)[department]
        + _effects(B2B_FIT["industry"], V.INDUSTRIES)[industry]
        + _effects(B2B_FIT["region"], V.REGIONS)[region]
        + banded(employees, B2B_SIZE_FIT)
        + rng.normal(0.0, FIT_NOISE, n)
    )
    intent = rng.normal(0.0, 1.0, n)

    def cat(vocab: tuple[str, ...], codes: np.ndarray) -> pa.Array:
        return pa.array(np.asarray(vocab, dtype=object)[codes], pa.string())

    campaign_names = np.asarray([c.name for c in cal.campaigns] + [None], dtype=object)
    table = pa.table({
        "id": ids,
        "email": pa.array(email, pa.string()),
        "account": pa.array(domain, pa.string()),
        "company": pa.array(company_name, pa.string()),
        "job_title": cat(V.JOB_TITLES, seniority * len(V.DEPARTMENTS) + department),
        "seniority": cat(V.SENIORITIES, seniority),
        "department": cat(V.DEPARTMENTS, department),
        "industry": cat(V.INDUSTRIES, industry),
        "employees": pa.array(employees, pa.int64()),
        "revenue": pa.array(revenue, pa.int64()),
        "country": cat(tuple(c[0] for c in V.COUNTRIES), country),
        "region": cat(V.REGIONS, region),
        "source": cat(V.SOURCES, source),
        "campaign": pa.array(campaign_names[campaign], pa.string()),
        "created_at": pa.array(created * 1_000_000, TIMESTAMP),
    })
    return Cohort(ids=ids, table=table, created=created, fit=fit, intent=intent,
                  traits={"source": source, "campaign": campaign, "employees": employees})
