"""Writes leads.csv and events.csv of the b2b-saas example: 40 leads over the year before 2026-06-01.

Deterministic (fixed seed, no clock): running it again gives the same files. Twelve leads are written by
hand to show the cases of the source documents (the director of a EUR 25M company, the marketing manager
of a EUR 1M company, hot / warm / cold, MQL, SQL, recycling, won and lost deals); the others follow a few
behaviour profiles with random details. Run: python examples/b2b-saas/data/make_data.py
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AT = datetime(2026, 6, 1, tzinfo=UTC)
LEAD_COLUMNS = ["id", "email", "account", "company", "job_title", "seniority", "department", "industry",
                "employees", "revenue", "country", "region", "source", "campaign", "created_at"]
EVENT_COLUMNS = ["id", "lead_id", "type", "timestamp", "path", "page_type", "channel", "campaign", "content_stage",
                 "form", "title", "subject", "network", "amount", "reason"]
PAGES = {"home": "/", "pricing": "/pricing", "careers": "/careers", "contact": "/contact",
         "blog": "/blog/what-is-lead-scoring", "product": "/product/scoring", "case-study": "/case-studies/belcor-bank",
         "docs": "/docs/getting-started"}
STAGE_OF_PAGE = {"home": "tofu", "blog": "tofu", "careers": "tofu", "pricing": "bofu", "contact": "bofu",
                 "product": "mofu", "case-study": "mofu", "docs": "mofu"}
REGION = {"NL": "benelux", "BE": "benelux", "NO": "nordics", "SE": "nordics", "DK": "nordics", "DE": "dach",
          "AT": "dach", "GB": "uk", "FR": "france", "US": "us", "ES": "other", "PL": "other"}


class Log:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, lead: str, kind: str, days_ago: float, **props: Any) -> None:
        ts = AT - timedelta(days=days_ago)
        self.rows.append({"lead_id": lead, "type": kind, "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), **props})

    def view(self, lead: str, page: str, days_ago: float, channel: str = "direct", **props: Any) -> None:
        self.add(lead, "page_view", days_ago, path=PAGES[page], page_type=page, channel=channel,
                 content_stage=STAGE_OF_PAGE[page], **props)


def lead(lid: str, name: str, company: str, title: str, seniority: str, department: str, industry: str,
         employees: int, revenue: int, country: str, source: str, created_days_ago: int) -> dict[str, Any]:
    domain = company.lower().replace(" ", "") + ".example"
    return {"id": lid, "email": f"{name}@{domain}", "account": domain, "company": company, "job_title": title,
            "seniority": seniority, "department": department, "industry": industry, "employees": employees,
            "revenue": revenue, "country": country, "region": REGION[country], "source": source,
            "campaign": "lead-scoring-ebook" if source == "paid" else "",
            "created_at": (AT - timedelta(days=created_days_ago)).strftime("%Y-%m-%d")}


def hand_made(log: Log) -> list[dict[str, Any]]:
    leads = [
        # Seed 000: director of a EUR 25M company, e-book + pricing page -> respond at once, personally.
        lead("b-001", "ingrid", "Nordvik Logistics", "Marketing Director", "director", "marketing", "logistics",
             140, 25_000_000, "NO", "organic", 40),
        # Seed 000: marketing manager of a EUR 1M company, blog post + webinar -> lighter nurture.
        lead("b-002", "bram", "Kalflow", "Marketing Manager", "manager", "marketing", "manufacturing",
             8, 1_000_000, "NL", "social", 60),
        # Seed 003 hot: came straight to the site for a quote.
        lead("b-003", "claire", "Solmark Retail", "VP Sales", "vp", "sales", "retail", 400, 80_000_000, "FR",
             "paid", 5),
        # Seed 003 warm: came from search and subscribed to the newsletter.
        lead("b-004", "daan", "Venwise Software", "Sales Manager", "manager", "sales", "software", 120, 21_000_000,
             "NL", "organic", 30),
        # Seed 003 cold: fits the profile, has not started buying.
        lead("b-005", "emma", "Torgate Health", "CMO", "c-level", "marketing", "healthcare", 180, 22_000_000, "DE",
             "event", 200),
        # MQL on score, then accepted by sales (SQL).
        lead("b-006", "finn", "Belcor Bank", "Head of Marketing Operations", "director", "marketing", "finance",
             160, 64_000_000, "BE", "organic", 50),
        # Rejected by sales, recycled, went quiet, back to lead.
        lead("b-007", "greta", "Rosport Consulting", "Marketing Specialist", "individual", "marketing",
             "consulting", 60, 9_000_000, "SE", "referral", 300),
        # Opportunity in progress.
        lead("b-008", "hugo", "Lumhub Education", "IT Director", "director", "it", "education", 900, 72_000_000,
             "GB", "direct", 150),
        # Customer (deal won).
        lead("b-009", "julia", "Altwave Software", "VP Marketing", "vp", "marketing", "software", 110, 20_000_000,
             "DK", "referral", 330),
        # Lost deal.
        lead("b-010", "karin", "Delgrid Finance", "Sales Director", "director", "sales", "finance", 250,
             100_000_000, "DE", "event", 280),
        # Job seeker: careers pages only.
        lead("b-011", "lars", "Everline", "Software Engineer", "individual", "engineering", "software", 30,
             5_400_000, "SE", "organic", 20),
        # Bounced e-mail: disqualified before sales saw the lead.
        lead("b-012", "marit", "Ostpoint Government", "HR Advisor", "individual", "hr", "government", 2000,
             200_000_000, "AT", "paid", 100),
    ]
    log.add("b-001", "ebook_download", 6, title="Scoring models explained", content_stage="mofu")
    log.view("b-001", "blog", 8, channel="organic")
    log.view("b-001", "pricing", 2, channel="direct")
    log.view("b-001", "product", 2)

    log.view("b-002", "blog", 20, channel="social")
    log.add("b-002", "webinar_registered", 15, title="Lead scoring 101")
    log.add("b-002", "webinar_attended", 10, title="Lead scoring 101")

    log.view("b-003", "pricing", 3, channel="paid", campaign="retargeting")
    log.add("b-003", "form_submit", 3, form="quote")
    log.add("b-003", "quote_request", 3)

    log.view("b-004", "blog", 25, channel="organic")
    log.add("b-004", "form_submit", 25, form="newsletter")
    log.add("b-004", "newsletter_subscribed", 25)
    log.add("b-004", "email_sent", 12, campaign="monthly-newsletter", subject="This month in marketing")
    log.add("b-004", "email_open", 11, campaign="monthly-newsletter", subject="This month in marketing")

    log.view("b-005", "home", 190, channel="direct")

    log.view("b-006", "case-study", 30, channel="organic")
    log.add("b-006", "whitepaper_download", 28, title="Benchmark: conversion rates by industry", content_stage="mofu")
    log.add("b-006", "webinar_attended", 20, title="From MQL to SQL: a live case study")
    log.view("b-006", "pricing", 15)
    log.add("b-006", "demo_request", 12)
    log.add("b-006", "sales_accepted", 11)

    log.add("b-007", "ebook_download", 250, title="Building nurture tracks that convert", content_stage="mofu")
    log.add("b-007", "webinar_attended", 245, title="Aligning sales and marketing")
    log.view("b-007", "pricing", 244)
    log.add("b-007", "demo_request", 243)
    log.add("b-007", "sales_rejected", 240)
    log.add("b-007", "email_open", 30, campaign="monthly-newsletter", subject="Your monthly digest")

    log.add("b-008", "demo_request", 70)
    log.add("b-008", "sales_accepted", 68)
    log.add("b-008", "opportunity_created", 55, amount=48_000)
    log.view("b-008", "docs", 9)
    log.view("b-008", "pricing", 4)

    log.add("b-009", "quote_request", 200)
    log.add("b-009", "sales_accepted", 199)
    log.add("b-009", "opportunity_created", 190, amount=36_000)
    log.add("b-009", "deal_won", 160, amount=36_000)
    log.view("b-009", "docs", 7)

    log.add("b-010", "demo_request", 150)
    log.add("b-010", "sales_accepted", 149)
    log.add("b-010", "opportunity_created", 140, amount=60_000)
    log.add("b-010", "deal_lost", 100, reason="competitor")

    log.view("b-011", "careers", 15, channel="organic")
    log.view("b-011", "careers", 14, channel="organic")
    log.view("b-011", "home", 14, channel="organic")

    log.add("b-012", "email_sent", 40, campaign="benchmark-report", subject="Our funnel benchmark is out")
    log.add("b-012", "email_bounce", 40, campaign="benchmark-report")
    log.view("b-012", "blog", 35, channel="paid")
    return leads


COMPANIES = ["Arcstack", "Brinhub", "Casflow", "Dunmark", "Ekgate", "Fjorwise", "Granport", "Havline", "Istcore",
             "Junfield", "Kalpath", "Lumwave", "Marstone", "Novgrid", "Orbway", "Polbridge", "Quinlab", "Rosdale",
             "Solheim", "Torworks", "Ulsphere", "Venborg", "Westholm", "Zenmont", "Altpoint", "Belware", "Corlink",
             "Delscape"]
PEOPLE = [("Marketing Manager", "manager", "marketing"), ("Sales Director", "director", "sales"),
          ("IT Manager", "manager", "it"), ("Financial Analyst", "individual", "finance"),
          ("CMO", "c-level", "marketing"), ("Operations Manager", "manager", "operations"),
          ("Marketing Specialist", "individual", "marketing"), ("VP Sales", "vp", "sales")]
INDUSTRIES = ["software", "manufacturing", "finance", "healthcare", "retail", "education", "logistics", "consulting"]
SIZES = [8, 12, 35, 70, 110, 150, 190, 240, 600, 1500]
COUNTRIES = list(REGION)


def generated(log: Log, rng: random.Random) -> list[dict[str, Any]]:
    leads = []
    for i, company in enumerate(COMPANIES):
        lid = f"b-{i + 13:03d}"
        title, seniority, department = rng.choice(PEOPLE)
        employees = rng.choice(SIZES)
        industry = rng.choice(INDUSTRIES)
        revenue = employees * rng.choice([90_000, 150_000, 200_000])
        leads.append(lead(lid, f"contact{i + 13}", company, title, seniority, department, industry, employees,
                          revenue, rng.choice(COUNTRIES), rng.choice(["organic", "paid", "social", "direct"]),
                          rng.randint(20, 360)))
        profile = rng.choice(["browser", "browser", "reader", "evaluator", "quiet", "subscriber"])
        if profile == "browser":
            for _ in range(rng.randint(1, 4)):
                log.view(lid, rng.choice(["home", "blog", "product"]), rng.uniform(1, 120),
                         channel=rng.choice(["organic", "direct", "social"]))
        elif profile == "reader":
            for _ in range(rng.randint(2, 5)):
                log.view(lid, "blog", rng.uniform(1, 90), channel="organic")
            log.add(lid, "ebook_download", rng.uniform(1, 60), title="The beginner's guide to lead scoring",
                    content_stage="tofu")
            for _ in range(rng.randint(0, 3)):
                log.add(lid, "email_click", rng.uniform(1, 60), campaign="lead-scoring-ebook",
                        subject="Your guide to lead scoring")
        elif profile == "evaluator":
            for _ in range(rng.randint(1, 3)):
                log.view(lid, rng.choice(["pricing", "product", "case-study"]), rng.uniform(1, 40))
            if rng.random() < 0.5:
                log.add(lid, "demo_request", rng.uniform(1, 25))
            else:
                log.add(lid, "webinar_attended", rng.uniform(1, 40), title="Live product demo")
        elif profile == "subscriber":
            log.add(lid, "newsletter_subscribed", rng.uniform(30, 200))
            for _ in range(rng.randint(1, 4)):
                log.add(lid, "email_open", rng.uniform(1, 80), campaign="monthly-newsletter",
                        subject="News, tips and events")
            if rng.random() < 0.3:
                log.add(lid, "unsubscribe", rng.uniform(1, 20))
        # "quiet" leads have no events at all
    return leads


def main() -> None:
    log = Log()
    leads = hand_made(log) + generated(log, random.Random(1))
    events = sorted(log.rows, key=lambda r: (r["timestamp"], r["lead_id"], r["type"]))
    for n, event in enumerate(events, 1):
        event["id"] = f"e-{n:05d}"
    for name, columns, rows in (("leads.csv", LEAD_COLUMNS, leads), ("events.csv", EVENT_COLUMNS, events)):
        with open(HERE / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
