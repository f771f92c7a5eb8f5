"""A third batch data set, shaped neither like `leadscore generate` nor like mixed_data.py: a product /
content / shop vocabulary of 40 event types, read by models written from the format's contract alone
(foreign_*.yaml) and by hand-written DuckDB queries of them (foreign_*.sql).

Run: .venv/bin/python benchmarks/foreign_data.py --leads 200000 --out /tmp/foreign-200000

Distributions (events: 50 per lead on average, written by DuckDB from hashes of the row number):
- 40 % of the leads have no event at all; the others draw their events from the product of two
  uniform draws (a long tail: the first active leads hold hundreds);
- 2 % of the events go to very heavy leads, one per 10,000 leads (at least 5): about 10,000 events each;
- 0.5 % of the events name a lead that is not in the leads file;
- times: 60 % uniform over two years, 30 % recent (exponential, mean 10 days), 8 % on one of 12
  campaign days, 2 % after T; the rows are in no order of time or lead (files written as drawn);
- lead ids are hashes ("L" and 16 hex digits), not sorted; event ids mostly unique, 0.3 % taken from a
  pool of 1,000 ids (so repeated on one heavy lead, with other content, and shared across leads),
  0.5 % missing (identified by content), and 0.1 % of the events delivered again in a later file
  (a third exact copies, a third with another type, a third with another time and value);
- long Unicode text (paths up to ~400 characters, titles in six scripts, campaign names with "ß", "İ",
  "Σ"), NULLs in most columns, integers and doubles, a boolean.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from mixed_data import _list, _pick, _unit, cli

AT = "2026-06-01 00:00:00+00"
# frequent first: the type of an event is the list's entry at 40 * u**2
TYPES = [
    "api_call", "page_view", "email_open", "login", "feature_used", "docs_view", "blog_read", "email_sent",
    "email_click", "search", "pricing_view", "video_play", "cart_add", "download", "chat_started",
    "support_ticket", "invite_sent", "export", "webinar_registered", "email_bounce", "checkout",
    "invoice_paid", "trial_started", "nps_response", "webinar_attended", "call_inbound", "call_outbound",
    "meeting_booked", "demo_requested", "demo_held", "upgrade", "downgrade", "payment_failed", "refund",
    "review_posted", "referral", "event_visit", "trial_extended", "unsubscribe", "signup",
]  # fmt: skip
SECTIONS = [
    "pricing", "Pricing", "docs", "docs/api", "blog", "de/preise", "fr/tarifs", "ja/価格", "api/v2",
    "careers", "legal", "tr/fiyatlandırma", "el/τιμές", "blog/ΑΝΑΛΥΣΗ",
]  # fmt: skip
WORDS = [
    "künstliche-intelligenz", "machine-learning", "Straße", "GROSSE", "naïve-bayes", "İstanbul",
    "ΣΥΝΕΔΡΙΟ", "δοκιμή", "日本語の記事", "データ分析", "ai", "AI-in-sales", "retail", "case-study",
    "how-to", "crm", "ΚΙ", "münchen", "ki", "Mañana",
]  # fmt: skip
TITLES = [
    "Künstliche Intelligenz im Vertrieb", "How AI changes B2B sales", "KI für den Mittelstand",
    "Why naïve scoring fails", "Lead scoring 101", "İstanbul ofisimiz açıldı", "ΣΥΝΕΔΡΙΟ 2026: τι νέο",
    "データドリブンな営業", "The CRM playbook", "Preise und Pakete", "Case study: Mañana Foods",
    "Pricing explained", "Webinar: AI & ML for marketers", "Blackfriday deals", "Release notes 4.2",
]  # fmt: skip
CAMPAIGNS = [
    "Spring_Sale_2026", "black-friday", "BLACK FRIDAY", "Black_Friday_EU", "Été 2026", "Große Aktion",
    "GROSSE AKTION", "Ürün lansmanı", "İNDİRİM", "webinar-ΣΥΝΕΔΡΙΟ", "retarget", "newsletter-03",
    "partner/referral", "cyber monday",
]  # fmt: skip
REFERRERS = [
    "https://www.google.com/", "https://t.co/abc", "https://www.linkedin.com/feed/",
    "android-app://com.linkedin.android", "https://news.ycombinator.com/", "https://linkedin-ads.example/",
    "https://www.bing.com/search?q=crm", "https://duckduckgo.com/",
]  # fmt: skip
FEATURES = [
    "reports", "Dashboards", "sso", "SAML SSO", "api-keys", "Zapier-Integration", "audit_log", "SSO",
    "Ünicode-feature", "scim", "dashboards", "workflows",
]  # fmt: skip
DEVICES = ["desktop", "mobile", "tablet", "Desktop"]
TITLES_LEADS = [
    "Chief Technology Officer", "VP Engineering", "Head of Data", "Software Engineer", "Geschäftsführerin",
    "Directeur Général", "Genel Müdür", "İK Müdürü", "Διευθυντής Πωλήσεων", "データサイエンティスト",
    "Student", "Founder & CEO", "co-founder", "Procurement Lead", "Data Analyst", "IT-Leiter",
]  # fmt: skip
PLANS = ["free", "pro", "Enterprise", "team", "PRO", "enterprise-plus"]
INDUSTRIES = ["Software", "SaaS", "Retail", "E-Commerce", "Finanzdienstleistungen", "Éducation", "Gesundheit"]
COUNTRIES = ["US", "DE", "FR", "TR", "GR", "JP", "GB", "CA", "AT", "CH", "ES", "BR"]
DOMAINS = ["gmail.com", "GMX.de", "acme.io", "example.com", "yahoo.fr", "outlook.com", "bücher.de", "web.de"]


def _lead_id(idx: str) -> str:
    return f"'L' || lpad(lower(hex(hash({idx}, 99))), 16, '0')"


def generate(out: Path, leads: int, events_per_lead: int = 50, parts: int = 5) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "events").mkdir(exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"""COPY (SELECT {_lead_id("i")} AS id,
            {_pick(WORDS, "hash(i, 1)")} || ' ' || {_pick(WORDS, "hash(i, 2)")} AS full_name,
            CASE WHEN hash(i, 3) % 10 = 0 THEN NULL ELSE {_pick(TITLES_LEADS, "hash(i, 4)")} END AS job_title,
            CASE WHEN hash(i, 5) % 20 = 0 THEN NULL
                 ELSE 'user' || CAST(i AS VARCHAR) || '@' || {_pick(DOMAINS, "hash(i, 6)")} END AS email,
            CASE WHEN hash(i, 7) % 20 = 0 THEN NULL ELSE {_pick(COUNTRIES, "hash(i, 8)")} END AS country,
            CASE WHEN hash(i, 9) % 7 = 0 THEN NULL
                 ELSE CAST(floor(exp({_unit("hash(i, 10)")} * 11)) AS BIGINT) END AS employees,
            CASE WHEN hash(i, 11) % 3 = 0 THEN NULL
                 ELSE round(exp({_unit("hash(i, 12)")} * 20), 2) END AS annual_revenue,
            {_pick(PLANS, "hash(i, 13)")} AS plan,
            CASE WHEN hash(i, 14) % 4 = 0 THEN NULL ELSE {_pick(INDUSTRIES, "hash(i, 15)")} END AS industry,
            hash(i, 16) % 5 = 0 AS is_partner
          FROM range({leads}) AS t(i)) TO '{out}/leads.parquet' (FORMAT PARQUET)"""
    )
    total = leads * events_per_lead
    per = (total + parts - 1) // parts
    heavy = max(5, leads // 10_000)
    active = max(1, leads * 3 // 5)
    # the lead of row i: heavy (2 %), unknown (0.5 %), or an active lead (index % 5 in 0..2) of a long tail
    k = f"CAST(floor({active} * {_unit('hash(i, 3)')} * {_unit('hash(i, 4)')}) AS BIGINT)"
    idx = f"""CASE WHEN hash(i, 1) % 10000 < 200 THEN CAST(hash(i, 2) % {heavy} AS BIGINT) * {leads // heavy}
                   WHEN hash(i, 1) % 10000 < 250 THEN {leads} + CAST(hash(i, 2) % 1000 AS BIGINT)
                   ELSE ({k} // 3) * 5 + {k} % 3 END"""
    u = _unit("hash(i, 20)")
    age_s = f"""CASE WHEN {u} < 0.60 THEN {_unit("hash(i, 21)")} * 730 * 86400
                     WHEN {u} < 0.90 THEN least(700.0, -ln(1.0 - {_unit("hash(i, 21)")}) * 10.0) * 86400
                     WHEN {u} < 0.98 THEN (CAST(hash(i, 22) % 12 AS DOUBLE) * 29.5 + 3.0) * 86400
                                          + {_unit("hash(i, 21)")} * 36000
                     ELSE -{_unit("hash(i, 21)")} * 40 * 86400 END"""
    typ = f"{_list(TYPES)}[1 + CAST(floor(40 * pow({_unit('hash(i, 5)')}, 2)) AS BIGINT)]"
    pages = "('page_view', 'docs_view', 'blog_read', 'pricing_view', 'download')"
    body = f"""SELECT
            CASE WHEN hash(i, 6) % 1000 < 5 THEN NULL
                 WHEN hash(i, 6) % 1000 < 8 THEN 'evt_' || CAST(hash(i, 7) % 1000 AS VARCHAR)
                 ELSE 'evt_' || CAST(i AS VARCHAR) END AS id,
            {_lead_id(idx)} AS lead_id, type,
            TIMESTAMPTZ '{AT}' - to_microseconds(CAST({age_s} * 1e6 AS BIGINT)) AS "timestamp",
            CASE WHEN type IN {pages} THEN '/' || {_pick(SECTIONS, "hash(i, 8)")} || '/' ||
                 repeat({_pick(WORDS, "hash(i, 9)")} || '-', CAST(hash(i, 10) % 12 AS BIGINT))
                 || CAST(hash(i, 11) % 100000 AS VARCHAR) END AS path,
            CASE WHEN type IN {pages} AND hash(i, 12) % 10 < 3 THEN {_pick(REFERRERS, "hash(i, 13)")} END AS referrer,
            CASE WHEN hash(i, 14) % 2 = 0 THEN {_pick(CAMPAIGNS, "hash(i, 15)")} END AS campaign,
            CASE WHEN type IN ('blog_read', 'docs_view', 'webinar_registered', 'webinar_attended', 'video_play')
                 THEN {_pick(TITLES, "hash(i, 16)")} END AS title,
            CASE WHEN type IN ('invoice_paid', 'checkout', 'upgrade') THEN round(exp({_unit("hash(i, 17)")} * 10), 2)
                 WHEN type = 'refund' THEN -round(exp({_unit("hash(i, 17)")} * 7), 2)
                 WHEN type = 'nps_response' THEN CAST(hash(i, 17) % 11 AS DOUBLE) END AS value,
            CASE WHEN type IN ('api_call', 'export', 'cart_add')
                 THEN CAST(floor(exp({_unit("hash(i, 18)")} * 9.5)) AS BIGINT) END AS quantity,
            CASE WHEN type = 'feature_used' THEN {_pick(FEATURES, "hash(i, 19)")} END AS feature,
            CASE WHEN hash(i, 23) % 5 > 0 THEN {_pick(DEVICES, "hash(i, 24)")} END AS device,
            CASE WHEN type IN ('video_play', 'webinar_attended', 'call_inbound', 'call_outbound', 'meeting_booked')
                 THEN round({_unit("hash(i, 25)")} * 3600, 1) END AS duration_s
          FROM (SELECT i, {typ} AS type FROM range({{lo}}, {{hi}}) AS t(i))"""
    for p in range(parts):
        lo, hi = p * per, min(total, (p + 1) * per)
        con.execute(f"COPY ({body.format(lo=lo, hi=hi)}) TO '{out}/events/part-{p}.parquet' (FORMAT PARQUET)")
    # delivered again, later: a third exact copies, a third another type, a third another time and value
    con.execute(
        f"""COPY (SELECT * REPLACE (
                CASE WHEN hash(lead_id, "timestamp", 2) % 3 = 1 THEN 'pricing_view' ELSE type END AS type,
                CASE WHEN hash(lead_id, "timestamp", 2) % 3 = 2 THEN "timestamp" - INTERVAL 3 DAY
                     ELSE "timestamp" END AS "timestamp",
                CASE WHEN hash(lead_id, "timestamp", 2) % 3 = 2 THEN 9999.5 ELSE value END AS value)
            FROM read_parquet('{out}/events/part-*.parquet') WHERE hash(lead_id, "timestamp", 1) % 1000 = 0)
          TO '{out}/events/part-z-redelivered.parquet' (FORMAT PARQUET)"""
    )
    n = con.execute(f"SELECT count(*) FROM read_parquet('{out}/events/*.parquet')").fetchall()[0][0]
    return {"leads": leads, "events": int(n)}


def main() -> None:
    cli(generate, __doc__, 200_000)


if __name__ == "__main__":
    main()
