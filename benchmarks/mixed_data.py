"""A second batch data set, made differently from `leadscore generate`: heavy-tailed leads, other event
types and properties, free text with non-ASCII letters and mixed case, high-cardinality URLs, events
after T, and 0.1 % of the events delivered twice (a later file), half of them with different content.

Run: .venv/bin/python benchmarks/mixed_data.py --leads 100000 --out /tmp/mixed-100000
Written by DuckDB from hashes of the row number (deterministic, fast: 50M events in a minute or two);
the model that reads it is benchmarks/mixed_model.yaml, the hand-written query mixed_query.sql.

Distributions: events per lead follow the square of a uniform draw (lead k of N gets about
sqrt(N/k) times the median: the heaviest lead of 1M holds about 50,000 events); event ages are
exponential (mean 45 days, at most 1,000 days); 1 % of the events lie after T.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

AT = "2026-06-01 00:00:00+00"
TITLES = [
    "Chief Executive Officer",
    "CEO",
    "Co-Founder & CTO",
    "cto",
    "CFO",
    "Chief Revenue Officer",
    "VP Sales",
    "vp of marketing",
    "Vice President Engineering",
    "Head of Growth",
    "Head Of IT",
    "Director of Operations",
    "Marketing Director",
    "directorate assistant",
    "Geschäftsführer",
    "GESCHÄFTSFÜHRERIN",
    "Directrice Générale",
    "Responsable Marketing",
    "İnsan Kaynakları Müdürü",
    "Software Engineer",
    "Senior Software Engineer",
    "Sales Development Rep",
    "Account Executive",
    "Office Manager",
    "Student",
    "Consultant",
    "Data Analyst",
    "Product Manager",
    "Chefredakteur",
    "Jefe de Ventas",
    "Gerente Comercial",
    "Intern",
    "Recruiter",
]
SUFFIXES = ["", "", "", ", EMEA", " (DACH)", " – Europe", " & Partner", " II", " | SaaS", " APAC"]
COUNTRIES = ["DE", "FR", "TR", "US", "GB", "ES", "BR", "NL", "AT", "CH", "PL", "IN"]
CITIES = ["München", "Köln", "MÜNCHEN", "İstanbul", "São Paulo", "Zürich", "Paris", "Berlin", "London", "Madrid"]
INDUSTRIES = ["Software", "software", "Finance", "Manufacturing", "Retail", "Gesundheitswesen", "Éducation"]
# weighted by repetition
TYPES = ["web.visit"] * 10 + ["mail.open"] * 5 + ["mail.click"] * 2 + ["form.submit", "call.logged", "order"]
SECTIONS = ["pricing", "plans", "blog", "docs", "Preise", "tarifs", "careers", "blog", "docs", "product"]
SOURCES = ["LinkedIn", "linkedin", "LINKEDIN", "Google", "google ads", "Newsletter", "Xing", "Partner-Portal"]
SUBJECTS = [
    "Ihr Angebot",
    "Your offer inside",
    "Devis n°",
    "ANGEBOT FÜR SIE",
    "Webinar invite",
    "Résumé de la démo",
    "Ödeme hatırlatma",
    "Monthly newsletter",
    "Re: pricing",
    "Einladung zum Webinar",
]


def _list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], h: str) -> str:
    return f"{_list(values)}[1 + CAST({h} % {len(values)} AS BIGINT)]"


def _unit(h: str) -> str:
    """A uniform draw in [0, 1) from a hash."""
    return f"(CAST({h} % 1000000007 AS DOUBLE) / 1000000007.0)"


def generate(out: Path, leads: int, events_per_lead: int = 50, parts: int = 4) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "events").mkdir(exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    lead_id = "'C' || lpad(CAST({} AS VARCHAR), 7, '0')"
    con.execute(
        f"""COPY (SELECT {lead_id.format("i")} AS id,
            CASE WHEN hash(i, 1) % 20 = 0 THEN NULL
                 ELSE {_pick(TITLES, "hash(i, 2)")} || {_pick(SUFFIXES, "hash(i, 3)")} END AS job_title,
            {_pick(COUNTRIES, "hash(i, 4)")} AS country,
            CASE WHEN hash(i, 5) % 3 = 0 THEN NULL ELSE {_pick(CITIES, "hash(i, 6)")} END AS city,
            CAST(floor(exp({_unit("hash(i, 7)")} * 9)) AS BIGINT) AS employees,
            {_pick(INDUSTRIES, "hash(i, 8)")} AS industry
          FROM range({leads}) AS t(i)) TO '{out}/leads.parquet' (FORMAT PARQUET)"""
    )
    total = leads * events_per_lead
    per = (total + parts - 1) // parts
    age_days = f"least(1000.0, -ln(1.0 - {_unit('hash(i, 13)')}) * 45.0)"
    when = (
        f"CASE WHEN hash(i, 14) % 100 = 0 THEN TIMESTAMPTZ '{AT}' + to_microseconds(CAST({_unit('hash(i, 15)')} "
        f"* 864e6 AS BIGINT)) ELSE TIMESTAMPTZ '{AT}' - to_microseconds(CAST({age_days} * 864e8 AS BIGINT)) END"
    )
    typ = _pick(TYPES, "hash(i, 12)")
    body = f"""SELECT 'ev-' || CAST(i AS VARCHAR) AS id,
            {lead_id.format(f"CAST(floor({leads} * pow({_unit('hash(i, 11)')}, 2)) AS BIGINT)")} AS lead_id,
            {typ} AS type, {when} AS "timestamp",
            CASE WHEN {typ} IN ('web.visit', 'form.submit') THEN 'https://www.example.com/' ||
                 {_pick(SECTIONS, "hash(i, 16)")} || '/' || CAST(hash(i, 17) % 50000 AS VARCHAR) END AS url,
            CASE WHEN {typ} IN ('web.visit', 'mail.click') THEN {_pick(SOURCES, "hash(i, 18)")} END AS source,
            CASE WHEN {typ} IN ('mail.open', 'mail.click') THEN {_pick(SUBJECTS, "hash(i, 19)")} || ' #' ||
                 CAST(hash(i, 20) % 1000 AS VARCHAR) END AS subject,
            CASE WHEN {typ} = 'order' THEN round(CAST(hash(i, 21) % 200000 AS DOUBLE) / 100.0, 2) END AS amount
          FROM range({{lo}}, {{hi}}) AS t(i)"""
    for p in range(parts):
        lo, hi = p * per, min(total, (p + 1) * per)
        con.execute(f"COPY ({body.format(lo=lo, hi=hi)}) TO '{out}/events/part-{p}.parquet' (FORMAT PARQUET)")
    # delivered again, later: half as exact copies, half with another page or type (the first copy wins)
    con.execute(
        f"""COPY (SELECT * REPLACE (
                CASE WHEN hash(id, 2) % 2 = 0 THEN type ELSE 'web.visit' END AS type,
                CASE WHEN hash(id, 2) % 2 = 0 THEN url ELSE 'https://www.example.com/pricing/redelivered' END AS url)
            FROM read_parquet('{out}/events/part-*.parquet') WHERE hash(id, 1) % 1000 = 0)
          TO '{out}/events/part-z-redelivered.parquet' (FORMAT PARQUET)"""
    )
    n = con.execute(f"SELECT count(*) FROM read_parquet('{out}/events/*.parquet')").fetchall()[0][0]
    return {"leads": leads, "events": int(n)}


def cli(make: Callable[[Path, int], dict[str, int]], doc: str | None, leads: int = 100_000) -> None:
    """The command line of a data set's generator: --leads, --out."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--leads", type=int, default=leads)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    t = time.perf_counter()
    made = make(args.out, args.leads)
    print(f"{made['leads']:,} leads, {made['events']:,} events in {time.perf_counter() - t:.1f} s: {args.out}")


def main() -> None:
    cli(generate, __doc__)


if __name__ == "__main__":
    main()
