"""The b2b vocabulary: every value a b2b lead attribute or event property can take.

These names are a contract with the example models and the scoring engines; change them only together.
"""

from __future__ import annotations

from leadscore.generate.calendar import Campaign
from leadscore.generate.frame import EventSchema

SENIORITIES = ("c-level", "vp", "director", "manager", "individual")
SENIORITY_WEIGHTS = (0.05, 0.07, 0.15, 0.30, 0.43)
DEPARTMENTS = ("marketing", "sales", "it", "finance", "operations", "hr", "engineering")
DEPARTMENT_WEIGHTS = (0.22, 0.16, 0.17, 0.10, 0.13, 0.07, 0.15)
INDUSTRIES = ("software", "manufacturing", "finance", "healthcare", "retail", "education", "logistics",
              "government", "consulting")
INDUSTRY_WEIGHTS = (0.18, 0.14, 0.10, 0.10, 0.12, 0.08, 0.10, 0.06, 0.12)
# Revenue per employee in EUR: revenue follows employees, scaled by what an employee earns in the sector.
REVENUE_PER_EMPLOYEE = (180e3, 250e3, 400e3, 120e3, 200e3, 80e3, 220e3, 100e3, 150e3)
INDUSTRY_WORDS = (
    ("Software", "Systems", "Digital", "Cloud", "Labs"),
    ("Industries", "Manufacturing", "Machines", "Metalworks", "Components"),
    ("Capital", "Finance", "Insurance", "Invest", "Payments"),
    ("Health", "Care", "Medical", "Clinics", "Pharma"),
    ("Retail", "Stores", "Fashion", "Foods", "Home"),
    ("Academy", "Learning", "College", "Institute", "School"),
    ("Logistics", "Transport", "Freight", "Shipping", "Cargo"),
    ("Municipality", "Agency", "Authority", "Services", "Council"),
    ("Consulting", "Advisory", "Partners", "Group", "Associates"),
)

REGIONS = ("benelux", "nordics", "dach", "uk", "france", "us", "other")
# country, region, weight, top-level domain, legal form
COUNTRIES = (
    ("NL", "benelux", 0.22, "nl", "BV"), ("BE", "benelux", 0.07, "be", "NV"), ("LU", "benelux", 0.01, "lu", "SA"),
    ("NO", "nordics", 0.08, "no", "AS"), ("SE", "nordics", 0.07, "se", "AB"), ("DK", "nordics", 0.06, "dk", "ApS"),
    ("FI", "nordics", 0.03, "fi", "Oy"), ("DE", "dach", 0.12, "de", "GmbH"), ("AT", "dach", 0.02, "at", "GmbH"),
    ("CH", "dach", 0.03, "ch", "AG"), ("GB", "uk", 0.10, "co.uk", "Ltd"), ("FR", "france", 0.06, "fr", "SAS"),
    ("US", "us", 0.08, "com", "Inc"), ("ES", "other", 0.02, "es", "SL"), ("IT", "other", 0.01, "it", "Srl"),
    ("PL", "other", 0.01, "pl", "Sp. z o.o."), ("IE", "other", 0.01, "ie", "Ltd"),
)
SOURCES = ("organic", "paid", "social", "referral", "email", "direct", "event")
SOURCE_WEIGHTS = (0.30, 0.18, 0.12, 0.10, 0.10, 0.12, 0.08)

_TITLES = {
    "c-level": ("CMO", "Chief Revenue Officer", "CIO", "CFO", "COO", "Chief People Officer", "CTO"),
    "vp": ("VP Marketing", "VP Sales", "VP IT", "VP Finance", "VP Operations", "VP People", "VP Engineering"),
    "director": ("Marketing Director", "Sales Director", "IT Director", "Finance Director",
                 "Operations Director", "HR Director", "Director of Engineering"),
    "manager": ("Marketing Manager", "Sales Manager", "IT Manager", "Finance Manager", "Operations Manager",
                "HR Manager", "Engineering Manager"),
    "individual": ("Marketing Specialist", "Account Executive", "System Administrator", "Financial Analyst",
                   "Operations Analyst", "HR Advisor", "Software Engineer"),
}
JOB_TITLES = tuple(_TITLES[s][d] for s in SENIORITIES for d in range(len(DEPARTMENTS)))  # s * 7 + d

FIRST_NAMES = (
    "anna", "bram", "carla", "daan", "emma", "finn", "greta", "hugo", "ingrid", "jan", "karin", "lars", "marit",
    "niels", "olga", "pieter", "quinten", "ruth", "sven", "tess", "ulrike", "victor", "wendy", "xavier",
    "yara", "zoe", "astrid", "bjorn", "claire", "dirk", "elise", "frank", "helga", "ivo", "julia", "kai",
    "lotte", "mads", "nina", "oscar", "petra", "rolf", "sofie", "thomas", "ursula", "vera", "willem", "james",
    "sarah", "michael", "laura", "david", "emily", "louis", "camille", "marco", "giulia", "pablo", "lucia",
    "tomasz",
)
LAST_NAMES = (
    "jansen", "de-vries", "bakker", "visser", "smit", "meijer", "hansen", "johansen", "olsen", "larsen",
    "andersen", "nilsson", "berg", "lindqvist", "muller", "schmidt", "schneider", "fischer", "weber", "wagner",
    "smith", "jones", "taylor", "brown", "wilson", "evans", "martin", "bernard", "dubois", "laurent", "moreau",
    "peeters", "janssens", "maes", "jacobs", "dupont", "rossi", "russo", "garcia", "lopez", "kowalski", "nowak",
    "murphy", "kelly", "virtanen", "korhonen", "haugen", "dahl", "svensson", "holm", "koch", "becker", "hoffmann",
    "van-dijk", "mulder", "de-boer", "bos", "clark", "walker", "wright",
)
NAME_STEMS_A = ("nord", "alt", "bel", "cor", "del", "ever", "fjor", "gran", "hav", "ist", "jun", "kal", "lum",
                "mar", "nov", "orb", "pol", "quin", "ros", "sol", "tor", "ul", "ven", "west", "zen", "arc",
                "brin", "cas", "dun", "ek")
NAME_STEMS_B = ("a", "e", "i", "o", "ia", "en", "er", "ar", "is", "on", "el", "an", "ex", "um", "io", "ra",
                "lo", "ne", "ta", "vi", "ko", "sa", "di", "ma", "ri", "lu", "be", "go", "te", "no")
NAME_STEMS_C = ("tech", "ware", "link", "flow", "point", "wise", "grid", "hub", "works", "line", "core",
                "bridge", "stone", "field", "gate", "lab", "mark", "path", "port", "scape", "sphere", "stack",
                "ville", "wave", "way", "dale", "borg", "heim", "holm", "mont")
NAME_TAILS = ("", "Group", "Holding", "International", "Europe", "Nordic", "Solutions", "Partners")

# ---- events ----
EVENT_TYPES = (
    "page_view", "form_submit", "ebook_download", "whitepaper_download", "webinar_registered",
    "webinar_attended", "newsletter_subscribed", "email_sent", "email_open", "email_click", "email_bounce",
    "unsubscribe", "chat_conversation", "social_like", "social_share", "demo_request", "quote_request",
    "sales_accepted", "sales_rejected", "opportunity_created", "deal_won", "deal_lost",
)
PAGE_TYPES = ("home", "blog", "pricing", "product", "case-study", "docs", "careers", "contact")
PAGE_STAGE = ("tofu", "tofu", "bofu", "mofu", "mofu", "mofu", "tofu", "bofu")
_SLUGS = {
    "blog": ("what-is-lead-scoring", "mql-vs-sql", "b2b-funnel-basics", "email-nurturing-tips",
             "buyer-personas", "content-marketing-roi", "marketing-automation-101", "seo-for-b2b",
             "closed-loop-reporting", "account-based-marketing", "intent-data", "webinar-playbook",
             "sales-marketing-alignment", "lead-nurturing-tracks", "gdpr-and-marketing", "predictive-scoring"),
    "product": ("scoring", "automation", "analytics", "integrations", "crm-sync", "api"),
    "case-study": ("nordvik-logistics", "belcor-bank", "solmark-retail", "torgate-health", "venwise-software",
                   "kalflow-manufacturing", "rosport-consulting", "lumhub-education"),
    "docs": ("getting-started", "scoring-rules", "api-reference", "integrations", "data-import", "security",
             "faq", "release-notes"),
}
_PREFIX = {"blog": "/blog/", "product": "/product/", "case-study": "/case-studies/", "docs": "/docs/"}
PATHS_BY_PAGE_TYPE: dict[str, tuple[str, ...]] = {
    "home": ("/",), "pricing": ("/pricing",), "careers": ("/careers",), "contact": ("/contact",),
    **{pt: tuple(_PREFIX[pt] + s for s in slugs) for pt, slugs in _SLUGS.items()},
}
PATHS = tuple(p for pt in PAGE_TYPES for p in PATHS_BY_PAGE_TYPE[pt])
CHANNELS = ("organic", "paid", "social", "referral", "email", "direct")
CHANNEL_WEIGHTS = (0.38, 0.14, 0.10, 0.08, 0.10, 0.20)
CONTENT_STAGES = ("tofu", "mofu", "bofu")
FORMS = ("newsletter", "contact", "ebook", "webinar", "demo", "quote")
NETWORKS = ("linkedin", "x", "facebook", "youtube")
NETWORK_WEIGHTS = (0.62, 0.18, 0.12, 0.08)
LOST_REASONS = ("price", "competitor", "no-decision", "timing", "missing-features", "budget")
LOST_REASON_WEIGHTS = (0.25, 0.25, 0.2, 0.12, 0.1, 0.08)

CAMPAIGNS = (
    Campaign("brand-awareness", 0.00, 0.25), Campaign("lead-scoring-ebook", 0.10, 0.35),
    Campaign("spring-webinar-series", 0.30, 0.45), Campaign("benchmark-report", 0.40, 0.65),
    Campaign("trade-fair", 0.55, 0.60), Campaign("product-launch", 0.60, 0.80),
    Campaign("retargeting", 0.75, 1.00), Campaign("roi-calculator", 0.85, 1.00),
)
NEWSLETTER = "monthly-newsletter"
SUBJECTS = {
    "brand-awareness": ("Meet the team behind smarter funnels", "Five signs your leads go cold"),
    "lead-scoring-ebook": ("Your guide to lead scoring", "Still scoring leads by gut feeling?"),
    "spring-webinar-series": ("Join our spring webinar series", "Last seats: webinar on Thursday"),
    "benchmark-report": ("Our funnel benchmark is out", "How do you compare with your peers?"),
    "trade-fair": ("Meet us at the trade fair", "Thanks for visiting our stand"),
    "product-launch": ("Introducing predictive scoring", "See what is new this quarter"),
    "retargeting": ("Still thinking it over?", "A personal demo, at your pace"),
    "roi-calculator": ("Calculate your ROI in two minutes", "What is slow follow-up costing you?"),
    NEWSLETTER: ("This month in marketing", "News, tips and events", "Your monthly digest"),
}
# Titles per content type and funnel stage: (type, stage) -> titles
CONTENT = {
    ("ebook", "tofu"): ("The beginner's guide to lead scoring", "10 myths about B2B funnels"),
    ("ebook", "mofu"): ("Building nurture tracks that convert", "Scoring models explained"),
    ("ebook", "bofu"): ("The buyer's checklist for scoring software", "Implementation in 30 days"),
    ("whitepaper", "tofu"): ("The state of B2B marketing", "Why leads go cold"),
    ("whitepaper", "mofu"): ("Benchmark: conversion rates by industry", "Predictive scoring in practice"),
    ("whitepaper", "bofu"): ("Total cost of ownership compared", "Security and compliance overview"),
    ("webinar", "tofu"): ("Lead scoring 101", "Marketing trends to watch"),
    ("webinar", "mofu"): ("From MQL to SQL: a live case study", "Aligning sales and marketing"),
    ("webinar", "bofu"): ("Live product demo", "Ask our implementation team"),
}
TITLES = tuple(t for titles in CONTENT.values() for t in titles)

EVENTS = EventSchema(
    types=EVENT_TYPES,
    strings={
        "path": PATHS,
        "page_type": PAGE_TYPES,
        "channel": CHANNELS,
        "campaign": (*(c.name for c in CAMPAIGNS), NEWSLETTER),
        "content_stage": CONTENT_STAGES,
        "form": FORMS,
        "title": TITLES,
        "subject": tuple(s for subjects in SUBJECTS.values() for s in subjects),
        "network": NETWORKS,
        "reason": LOST_REASONS,
    },
    numbers=("amount",),
    columns=("path", "page_type", "channel", "campaign", "content_stage", "form", "title", "subject",
             "network", "amount", "reason"),
)
