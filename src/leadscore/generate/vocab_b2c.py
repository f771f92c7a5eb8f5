"""The b2c vocabulary (a shoe shop's customers): every value a lead attribute or event property can take.

These names are a contract with the example models and the scoring engines; change them only together.
"""

from __future__ import annotations

from leadscore.generate.calendar import Campaign
from leadscore.generate.frame import EventSchema

GENDERS = ("f", "m", "x")
GENDER_WEIGHTS = (0.56, 0.42, 0.02)
CITIES = {
    "NL": ("Amsterdam", "Rotterdam", "Utrecht", "Den Haag", "Eindhoven", "Groningen", "Tilburg", "Almere",
           "Breda", "Nijmegen"),
    "BE": ("Antwerpen", "Gent", "Brussel", "Brugge", "Leuven"),
    "DE": ("Berlin", "Hamburg", "Koeln", "Duesseldorf", "Muenchen"),
    "FR": ("Lille", "Paris"),
    "LU": ("Luxembourg",),
}
COUNTRIES = tuple(CITIES)
COUNTRY_WEIGHTS = (0.70, 0.15, 0.10, 0.03, 0.02)
CITY_LIST = tuple(c for cities in CITIES.values() for c in cities)
MAIL_DOMAINS = ("gmail.com", "outlook.com", "hotmail.com", "icloud.com", "yahoo.com", "ziggo.nl", "kpnmail.nl",
                "telenet.be", "web.de", "orange.fr")

EVENT_TYPES = ("page_view", "account_created", "facebook_like", "newsletter_subscribed", "newsletter_open",
               "email_click", "social_share", "add_to_cart", "purchase", "unsubscribe", "email_bounce")
PAGE_TYPES = ("home", "product", "category", "cart", "blog")
CATEGORY_PAGES = ("running", "sneakers", "boots", "sandals", "formal", "kids", "accessories")
BLOG_POSTS = ("how-to-choose-running-shoes", "caring-for-leather", "spring-trends", "sizing-guide",
              "waterproofing-tips", "the-perfect-fit")
CATEGORIES = ("shoes", "accessories")
# product, category, price in EUR
PRODUCTS = (
    ("trail-runner", "shoes", 129.95), ("city-sneaker", "shoes", 89.95), ("classic-loafer", "shoes", 109.95),
    ("winter-boot", "shoes", 149.95), ("summer-sandal", "shoes", 49.95), ("leather-oxford", "shoes", 159.95),
    ("kids-sneaker", "shoes", 44.95), ("running-pro", "shoes", 179.95),
    ("shoe-polish", "accessories", 6.95), ("laces", "accessories", 3.95), ("insoles", "accessories", 14.95),
    ("waterproof-spray", "accessories", 9.95), ("shoe-horn", "accessories", 7.95),
    ("socks-3-pack", "accessories", 12.95),
)
PRODUCT_NAMES = tuple(p[0] for p in PRODUCTS)
PATHS_BY_PAGE_TYPE: dict[str, tuple[str, ...]] = {
    "home": ("/",),
    "product": tuple("/product/" + p for p in PRODUCT_NAMES),
    "category": tuple("/category/" + c for c in CATEGORY_PAGES),
    "cart": ("/cart",),
    "blog": tuple("/blog/" + b for b in BLOG_POSTS),
}
PATHS = tuple(p for pt in PAGE_TYPES for p in PATHS_BY_PAGE_TYPE[pt])
CHANNELS = ("organic", "paid", "social", "referral", "email", "direct")
CHANNEL_WEIGHTS = (0.35, 0.20, 0.15, 0.05, 0.10, 0.15)
NETWORKS = ("facebook", "instagram", "pinterest", "whatsapp")
NETWORK_WEIGHTS = (0.40, 0.35, 0.15, 0.10)
CAMPAIGNS = (
    Campaign("spring-collection", 0.05, 0.20), Campaign("summer-sale", 0.20, 0.30),
    Campaign("back-to-school", 0.38, 0.45), Campaign("black-friday", 0.55, 0.58),
    Campaign("christmas", 0.58, 0.64), Campaign("winter-sale", 0.64, 0.72),
    Campaign("new-season", 0.72, 0.85), Campaign("mid-season-sale", 0.88, 0.95),
)
NEWSLETTER = "weekly-newsletter"

EVENTS = EventSchema(
    types=EVENT_TYPES,
    strings={
        "path": PATHS,
        "page_type": PAGE_TYPES,
        "channel": CHANNELS,
        "campaign": (*(c.name for c in CAMPAIGNS), NEWSLETTER),
        "network": NETWORKS,
        "category": CATEGORIES,
        "product": PRODUCT_NAMES,
    },
    numbers=("amount",),
    columns=("path", "page_type", "channel", "campaign", "network", "category", "product", "amount"),
)
