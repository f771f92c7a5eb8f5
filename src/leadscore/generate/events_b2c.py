"""b2c behaviour: visits, social, the weekly newsletter, carts and (repeat) purchases.

Buyers are drawn from the hidden fit and intent; their purchases land inside their visits, each after
an add-to-cart. Newsletter opens follow the weekly send for subscribers and fade for some of them.
"""

from __future__ import annotations

import numpy as np

from leadscore.generate import vocab_b2c as V
from leadscore.generate.calendar import Calendar
from leadscore.generate.cohort import Cohort
from leadscore.generate.frame import EventFrame, lead_time_order
from leadscore.generate.options import DEFAULT_EVENTS_PER_LEAD
from leadscore.generate.propensity import B2C_ACTIVITY, B2C_PURCHASES, B2C_STEPS
from leadscore.generate.rand import pick
from leadscore.generate.timeline import Timeline, event_counts, later, pick_event, place

S = V.EVENTS
DAY, WEEK, YEAR = 86_400, 7 * 86_400, 365 * 86_400
_BASE = ("page_view", "facebook_like", "social_share", "add_to_cart")
_BASE_MIX = (0.90, 0.03, 0.015, 0.055)
_PAGE_MIX = (0.20, 0.35, 0.30, 0.05, 0.10)  # home, product, category, cart, blog
BASE_SHARE = 0.56
# Per-lead events that do not grow with --events-per-lead (subscribing, an account, a first purchase):
# taken off the visits so that the average holds at any volume.
FIXED_EVENTS = 4.0
_PATH_START = np.cumsum([0] + [len(V.PATHS_BY_PAGE_TYPE[p]) for p in V.PAGE_TYPES])[:-1]
_PATH_COUNT = np.array([len(V.PATHS_BY_PAGE_TYPE[p]) for p in V.PAGE_TYPES])
_PRICE = np.array([p[2] for p in V.PRODUCTS])
_PRODUCT_CATEGORY = np.array([V.CATEGORIES.index(p[1]) for p in V.PRODUCTS])
_SHOES = np.flatnonzero(_PRODUCT_CATEGORY == 0)
_ACCESSORIES = np.flatnonzero(_PRODUCT_CATEGORY == 1)
_PRODUCT_PAGE = np.array([V.PATHS.index("/product/" + p) for p in V.PRODUCT_NAMES])
_EMAIL = S.code("channel", "email")
_NEWSLETTER = S.code("campaign", V.NEWSLETTER)
_CAMPAIGN_CHANNELS = [S.code("channel", c) for c in ("paid", "social", "email")]


def _campaign(cal: Calendar, t: np.ndarray, u: np.ndarray) -> np.ndarray:
    codes = np.array([S.code("campaign", c.name) for c in cal.campaigns], dtype=np.int32)
    active = cal.active(t, u)
    return np.where(active >= 0, codes[np.maximum(active, 0)], -1)


def _products(rng: np.random.Generator, n: int) -> np.ndarray:
    shoes = rng.random(n) < 0.6
    return np.where(shoes, _SHOES[rng.integers(0, len(_SHOES), n)],
                    _ACCESSORIES[rng.integers(0, len(_ACCESSORIES), n)])


def _visits(rng: np.random.Generator, tl: Timeline, cohort: Cohort, cal: Calendar) -> list[EventFrame]:
    m = len(tl.lead)
    kind = pick(rng.random(m), _BASE_MIX)
    kind[tl.starts] = 0
    own = pick(rng.random(len(cohort)), V.CHANNEL_WEIGHTS)
    frames = []
    for k, name in enumerate(_BASE):
        idx = np.flatnonzero(kind == k)
        lead, t, n = tl.lead[idx], tl.t[idx], len(idx)
        if name == "page_view":
            page_type = pick(rng.random(n), _PAGE_MIX)
            path = _PATH_START[page_type] + (rng.random(n) * _PATH_COUNT[page_type]).astype(np.int64)
            channel = np.where(rng.random(n) < 0.5, own[lead], pick(rng.random(n), V.CHANNEL_WEIGHTS))
            campaign = np.where(np.isin(channel, _CAMPAIGN_CHANNELS), _campaign(cal, t, rng.random(n)), -1)
            frames.append(EventFrame.build(S, lead, t, name, path=path, page_type=page_type, channel=channel,
                                           campaign=campaign))
        elif name == "add_to_cart":  # abandoned carts
            product = _products(rng, n)
            frames.append(EventFrame.build(S, lead, t, name, category=_PRODUCT_CATEGORY[product],
                                           product=product, amount=_PRICE[product]))
        elif name == "social_share":
            frames.append(EventFrame.build(S, lead, t, name, network=pick(rng.random(n), V.NETWORK_WEIGHTS)))
        else:
            frames.append(EventFrame.build(S, lead, t, name))
    return frames


def _purchases(rng: np.random.Generator, tl: Timeline, cohort: Cohort, cal: Calendar,
               scale: float) -> list[EventFrame]:
    fit, intent = cohort.fit, cohort.intent
    buyer = rng.random(len(cohort)) < B2C_STEPS["buyer"].p(fit, intent)
    years = (cal.end - cohort.created) / YEAR
    c = B2C_PURCHASES
    rate = c["per_year"] * min(scale, 1.0) * years * np.exp(c["fit"] * fit + c["intent"] * intent)
    count = np.where(buyer, 1 + rng.poisson(rate), 0)
    lead = np.repeat(np.arange(len(cohort)), count)
    t = tl.t[pick_event(rng, tl, lead, np.zeros(len(lead)))] + rng.integers(120, 900, len(lead))
    keep = t < cal.end
    lead, t = lead[keep], t[keep]
    product = _products(rng, len(lead))
    category, amount = _PRODUCT_CATEGORY[product], _PRICE[product]
    cart_t = t - rng.integers(30, 600, len(lead))
    return [
        EventFrame.build(S, lead, t, "purchase", category=category, product=product, amount=amount),
        EventFrame.build(S, lead, cart_t, "add_to_cart", category=category, product=product, amount=amount),
        EventFrame.build(S, lead, cart_t - 20, "page_view", path=_PRODUCT_PAGE[product],
                         page_type=S.code("page_type", "product"), channel=S.code("channel", "direct")),
        EventFrame.build(S, lead, t - 10, "page_view", path=S.code("path", "/cart"),
                         page_type=S.code("page_type", "cart"), channel=S.code("channel", "direct")),
    ]


def _account(rng: np.random.Generator, tl: Timeline, cohort: Cohort) -> EventFrame:
    leads = np.flatnonzero(rng.random(len(cohort)) < B2C_STEPS["account_created"].p(cohort.fit, cohort.intent))
    return EventFrame.build(S, leads, tl.t[pick_event(rng, tl, leads, np.zeros(len(leads)))] + 5,
                            "account_created")


def _newsletter(rng: np.random.Generator, tl: Timeline, cohort: Cohort, cal: Calendar,
                scale: float) -> list[EventFrame]:
    """Subscriptions, then opens of the weekly send; bounces and unsubscribes end them."""
    fit, intent = cohort.fit, cohort.intent
    subs = np.flatnonzero(rng.random(len(cohort)) < B2C_STEPS["newsletter"].p(fit, intent))
    at_signup = rng.random(len(subs)) < 0.6
    sub_t = np.where(at_signup, cohort.created[subs] + 30,
                     tl.t[pick_event(rng, tl, subs, np.zeros(len(subs)))] + 30)
    weeks = np.maximum((cal.end - sub_t) // WEEK, 0)
    p_open = B2C_STEPS["newsletter_open"].p(fit[subs], intent[subs])
    bounced = rng.random(len(subs)) < 0.02
    opens = np.where(bounced, 0, rng.poisson(weeks * p_open * scale))
    lead = np.repeat(subs, opens)
    fading = np.repeat(rng.random(len(subs)) < 0.35, opens)
    v = rng.random(len(lead)) ** np.where(fading, 2.5, 1.0)
    start = np.repeat(sub_t, opens)
    t = start + 3600 + (v * (cal.end - start - 3600)).astype(np.int64)
    campaign = np.where(rng.random(len(lead)) < 0.5, _campaign(cal, t, rng.random(len(lead))), -1)
    campaign = np.where(campaign >= 0, campaign, _NEWSLETTER)
    order = lead_time_order(lead, t)
    opened = EventFrame.build(S, lead[order], t[order], "newsletter_open", campaign=campaign[order])

    # Unsubscribers leave after one of their opens; later opens never happen.
    cut = np.full(len(cohort), np.iinfo(np.int64).max)
    leavers, first = np.unique(opened.lead, return_index=True)
    per_lead = np.diff(np.append(first, len(opened)))
    unsub = rng.random(len(leavers)) < np.where(intent[leavers] < -0.5, 0.12, 0.05)
    which = first[unsub] + (rng.random(int(unsub.sum())) * per_lead[unsub]).astype(np.int64)
    unsub_t = later(rng, opened.t[which], 600)
    cut[leavers[unsub]] = unsub_t
    opened = opened.select(opened.t < cut[opened.lead])
    clicked = opened.select(rng.random(len(opened)) < B2C_STEPS["email_click"].p(fit, intent)[opened.lead])
    clicked.t = later(rng, clicked.t, 120)
    clicked.type[:] = S.types.index("email_click")
    clicked = clicked.select(clicked.t < cal.end)
    landing = EventFrame.build(S, clicked.lead, clicked.t + 5, "page_view", path=S.code("path", "/"),
                               page_type=S.code("page_type", "home"), channel=_EMAIL,
                               campaign=clicked.props["campaign"])
    bounce_t = sub_t[bounced] + DAY
    return [
        EventFrame.build(S, subs, sub_t, "newsletter_subscribed").select(sub_t < cal.end),
        opened, clicked, landing.select(landing.t < cal.end),
        EventFrame.build(S, subs[bounced], bounce_t, "email_bounce").select(bounce_t < cal.end),
        EventFrame.build(S, leavers[unsub], unsub_t, "unsubscribe").select(unsub_t < cal.end),
    ]


def make_events(rng: np.random.Generator, cohort: Cohort, cal: Calendar, events_per_lead: float) -> EventFrame:
    n = len(cohort)
    a = B2C_ACTIVITY
    life = (cal.end - cohort.created) / cal.span
    weight = np.exp(a["fit"] * cohort.fit + a["intent"] * cohort.intent + rng.normal(0, a["noise"], n)) * life**0.8
    scale = events_per_lead / DEFAULT_EVENTS_PER_LEAD["b2c"]
    mean = max(1.0, BASE_SHARE * events_per_lead - (1 - scale) * FIXED_EVENTS)
    counts = event_counts(rng, weight, mean, cap=int(max(200, 40 * events_per_lead)))
    skew = np.where(rng.random(n) < 0.35, 2.5, 1.0)
    tl = place(rng, counts, cohort.created, cal.end, skew)
    frames = _visits(rng, tl, cohort, cal)
    frames += _purchases(rng, tl, cohort, cal, scale)
    frames.append(_account(rng, tl, cohort))
    frames += _newsletter(rng, tl, cohort, cal, scale)
    frame = EventFrame.concat(frames)
    # Lead-ins placed seconds before an event (a form before its download) never precede the lead.
    frame.t = np.maximum(frame.t, cohort.created[frame.lead])
    return frame.sorted()
