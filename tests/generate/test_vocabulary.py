"""The shared vocabulary: column names, types and values that models and engines rely on."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadscore.generate import Summary
from tests.generate.conftest import read_events

TS = pa.timestamp("us", tz="UTC")


def _values(table: pa.Table, column: str) -> set[object]:
    return set(pc.unique(table.column(column)).to_pylist()) - {None}


def test_b2b_leads(b2b_run: tuple[Summary, Path]) -> None:
    leads = pq.read_table(b2b_run[1] / "leads.parquet")
    assert leads.column_names == ["id", "email", "account", "company", "job_title", "seniority", "department",
                                  "industry", "employees", "revenue", "country", "region", "source",
                                  "campaign", "created_at"]
    assert leads.schema.field("employees").type == pa.int64()
    assert leads.schema.field("created_at").type == TS
    assert _values(leads, "seniority") == {"c-level", "vp", "director", "manager", "individual"}
    assert _values(leads, "department") == {"marketing", "sales", "it", "finance", "operations", "hr",
                                            "engineering"}
    assert _values(leads, "industry") == {"software", "manufacturing", "finance", "healthcare", "retail",
                                          "education", "logistics", "government", "consulting"}
    assert _values(leads, "region") == {"benelux", "nordics", "dach", "uk", "france", "us", "other"}
    assert _values(leads, "source") == {"organic", "paid", "social", "referral", "email", "direct", "event"}
    assert {"NL", "NO", "DE", "BE", "GB", "FR", "SE", "DK", "US"} <= _values(leads, "country")
    rows = leads.to_pylist()
    assert all(re.fullmatch(r"L\d{7}", r["id"]) for r in rows)
    assert all(r["email"].endswith("@" + r["account"]) for r in rows)
    assert all(1 <= r["employees"] <= 50_000 and r["revenue"] > 0 for r in rows)
    # Heavy tail: most companies are small, a few are very large.
    employees = sorted(r["employees"] for r in rows)
    assert employees[len(employees) // 2] < 200 and employees[-1] > 5000
    # An account is one company: the same domain always has the same firmographics.
    seen: dict[str, tuple[object, ...]] = {}
    for r in rows:
        key = (r["company"], r["industry"], r["employees"], r["country"])
        assert seen.setdefault(r["account"], key) == key


def test_b2b_events(b2b_run: tuple[Summary, Path]) -> None:
    events = read_events(b2b_run[1])
    assert events.column_names == ["id", "lead_id", "type", "timestamp", "path", "page_type", "channel",
                                   "campaign", "content_stage", "form", "title", "subject", "network",
                                   "amount", "reason"]
    assert events.schema.field("timestamp").type == TS
    assert events.schema.field("amount").type == pa.float64()
    assert _values(events, "type") == {
        "page_view", "form_submit", "ebook_download", "whitepaper_download", "webinar_registered",
        "webinar_attended", "newsletter_subscribed", "email_sent", "email_open", "email_click", "email_bounce",
        "unsubscribe", "chat_conversation", "social_like", "social_share", "demo_request", "quote_request",
        "sales_accepted", "sales_rejected", "opportunity_created", "deal_won", "deal_lost"}
    assert _values(events, "page_type") == {"home", "blog", "pricing", "product", "case-study", "docs",
                                            "careers", "contact"}
    assert _values(events, "channel") == {"organic", "paid", "social", "referral", "email", "direct"}
    assert _values(events, "content_stage") == {"tofu", "mofu", "bofu"}
    assert _values(events, "form") == {"newsletter", "contact", "ebook", "webinar", "demo", "quote"}
    prefix = {"home": "/", "blog": "/blog/", "pricing": "/pricing", "product": "/product/",
              "case-study": "/case-studies/", "docs": "/docs/", "careers": "/careers", "contact": "/contact"}
    views = events.filter(pc.equal(events.column("type"), "page_view")).select(["path", "page_type"])
    for path, page_type in set(zip(*(views.column(c).to_pylist() for c in ("path", "page_type")), strict=True)):
        assert path.startswith(prefix[page_type])
    # A property that does not apply to a type is null.
    sent = events.filter(pc.equal(events.column("type"), "email_sent"))
    assert sent.column("path").null_count == sent.num_rows
    assert sent.column("subject").null_count == 0 and sent.column("campaign").null_count == 0
    won = events.filter(pc.equal(events.column("type"), "deal_won"))
    assert won.column("amount").null_count == 0 and pc.min(won.column("amount")).as_py() > 0
    lost = events.filter(pc.equal(events.column("type"), "deal_lost"))
    assert lost.column("reason").null_count == 0
    ids = events.column("id")
    assert pc.count_distinct(ids).as_py() == events.num_rows
    leads = set(pq.read_table(b2b_run[1] / "leads.parquet").column("id").to_pylist())
    assert _values(events, "lead_id") == leads  # every lead has a history, and only leads do


def test_b2c_leads_and_events(b2c_run: tuple[Summary, Path]) -> None:
    out = b2c_run[1]
    leads = pq.read_table(out / "leads.parquet")
    assert leads.column_names == ["id", "email", "age", "gender", "city", "country", "loyalty_member",
                                  "created_at"]
    assert leads.schema.field("loyalty_member").type == pa.bool_()
    assert _values(leads, "gender") == {"f", "m", "x"}
    assert pc.count_distinct(leads.column("email")).as_py() == leads.num_rows
    events = read_events(out)
    assert events.column_names == ["id", "lead_id", "type", "timestamp", "path", "page_type", "channel",
                                   "campaign", "network", "category", "product", "amount"]
    assert _values(events, "type") == {
        "page_view", "account_created", "facebook_like", "newsletter_subscribed", "newsletter_open",
        "email_click", "social_share", "add_to_cart", "purchase", "unsubscribe", "email_bounce"}
    assert _values(events, "page_type") == {"home", "product", "category", "cart", "blog"}
    purchases = events.filter(pc.equal(events.column("type"), "purchase"))
    assert _values(purchases, "category") == {"shoes", "accessories"}
    assert purchases.column("product").null_count == 0 and pc.min(purchases.column("amount")).as_py() > 0
    opens = events.filter(pc.equal(events.column("type"), "newsletter_open"))
    assert opens.column("campaign").null_count == 0
