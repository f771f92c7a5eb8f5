"""b2b behaviour: web visits, content, e-mail, social, hand-over to sales and the sales outcome.

Each lead's history is a sequence of sessions; where in that sequence the lead moves from top to middle
to bottom of funnel content is drawn from its hidden fit and intent, and so is whether it asks for a
demo or a quote, and how sales deals with it. Everything is vectorised over the chunk's events.
"""

from __future__ import annotations

import numpy as np

from leadscore.generate import vocab_b2b as V
from leadscore.generate.calendar import Calendar
from leadscore.generate.cohort import Cohort
from leadscore.generate.frame import EventFrame, lead_time_order
from leadscore.generate.options import DEFAULT_EVENTS_PER_LEAD
from leadscore.generate.propensity import B2B_ACTIVITY, B2B_STEPS
from leadscore.generate.rand import pick, pick_rows
from leadscore.generate.timeline import Timeline, event_counts, later, pick_event, place

S = V.EVENTS
DAY = 86_400
# Base events that make up most of a history, and their mix per funnel phase (tofu, mofu, bofu).
_BASE = ("page_view", "email_sent", "ebook_download", "whitepaper_download", "webinar_registered",
         "chat_conversation", "social_like", "social_share", "form_submit")
_BASE_MIX = np.array([
    [0.62, 0.26, 0.030, 0.010, 0.010, 0.002, 0.050, 0.015, 0.003],
    [0.55, 0.25, 0.040, 0.040, 0.040, 0.010, 0.040, 0.015, 0.005],
    [0.58, 0.24, 0.020, 0.030, 0.030, 0.030, 0.030, 0.010, 0.030],
])
# home, blog, pricing, product, case-study, docs, careers, contact
_PAGE_MIX = np.array([
    [0.30, 0.45, 0.02, 0.08, 0.03, 0.04, 0.06, 0.02],
    [0.12, 0.25, 0.06, 0.25, 0.15, 0.14, 0.01, 0.02],
    [0.08, 0.10, 0.25, 0.22, 0.12, 0.12, 0.01, 0.10],
])
# Share of a history made of base events; follow-ups (opens, clicks, forms, sales) make up the rest.
BASE_SHARE = 0.84
# Per-lead events that do not grow with --events-per-lead (newsletter, sales steps), taken off the
# base events so that the average holds at any volume.
FIXED_EVENTS = 1.5
_SOURCE_CHANNEL = np.array([S.code("channel", c) for c in
                            ("organic", "paid", "social", "referral", "email", "direct", "referral")])
_CAMPAIGN_CHANNELS = [S.code("channel", c) for c in ("paid", "social", "email")]
_NEWSLETTER = S.code("campaign", V.NEWSLETTER)
_PATH_START = np.cumsum([0] + [len(V.PATHS_BY_PAGE_TYPE[p]) for p in V.PAGE_TYPES])[:-1]
_PATH_COUNT = np.array([len(V.PATHS_BY_PAGE_TYPE[p]) for p in V.PAGE_TYPES])
_PAGE_STAGE = np.array([V.CONTENT_STAGES.index(s) for s in V.PAGE_STAGE])
_SUBJECT_START = np.cumsum([0] + [len(v) for v in V.SUBJECTS.values()])[:-1]
_SUBJECT_COUNT = np.array([len(v) for v in V.SUBJECTS.values()])


def _campaign_codes(cal: Calendar) -> np.ndarray:
    """Calendar campaign index -> code in the events' campaign vocabulary."""
    return np.array([S.code("campaign", c.name) for c in cal.campaigns], dtype=np.int32)


def _title(kind: str, stage: np.ndarray, u: np.ndarray) -> np.ndarray:
    table = np.array([[V.TITLES.index(t) for t in V.CONTENT[(kind, s)]] for s in V.CONTENT_STAGES])
    return table[stage, np.minimum((u * table.shape[1]).astype(np.int64), table.shape[1] - 1)].astype(np.int32)


def _page_views(rng: np.random.Generator, lead: np.ndarray, t: np.ndarray, page_type: np.ndarray,
                channel: np.ndarray, cal: Calendar) -> EventFrame:
    path = _PATH_START[page_type] + (rng.random(len(lead)) * _PATH_COUNT[page_type]).astype(np.int64)
    active = cal.active(t, rng.random(len(lead)))
    campaign = np.where(np.isin(channel, _CAMPAIGN_CHANNELS) & (active >= 0),
                        _campaign_codes(cal)[np.maximum(active, 0)], -1)
    return EventFrame.build(S, lead, t, "page_view", path=path, page_type=page_type, channel=channel,
                            campaign=campaign, content_stage=_PAGE_STAGE[page_type])


def _base_events(rng: np.random.Generator, tl: Timeline, phase: np.ndarray, cohort: Cohort,
                 cal: Calendar) -> dict[str, tuple[EventFrame, np.ndarray]]:
    """Base events by type in lead-then-time order, each with its position in its lead's history."""
    m = len(tl.lead)
    kind = pick_rows(rng.random(m), phase, _BASE_MIX)
    kind[tl.starts] = 0  # a lead's first touch is a visit
    frames: dict[str, tuple[EventFrame, np.ndarray]] = {}
    for k, name in enumerate(_BASE):
        idx = np.flatnonzero(kind == k)
        lead, t, ph = tl.lead[idx], tl.t[idx], phase[idx]
        n = len(idx)
        if name == "page_view":
            page_type = pick_rows(rng.random(n), ph, _PAGE_MIX)
            own = _SOURCE_CHANNEL[cohort.traits["source"][lead]]
            channel = np.where(rng.random(n) < 0.45, own, pick(rng.random(n), V.CHANNEL_WEIGHTS))
            first = tl.q[idx] == 0
            channel[first] = own[first]
            frame = _page_views(rng, lead, t, page_type, channel, cal)
            lead_campaign = cohort.traits["campaign"][lead[first]]
            frame.props["campaign"][first] = np.where(
                lead_campaign >= 0, _campaign_codes(cal)[np.maximum(lead_campaign, 0)], -1)
            frames[name] = frame, tl.q[idx]
        elif name == "email_sent":
            # Marketing sends in the morning, on its own schedule rather than inside the lead's visits.
            life = cal.end - cohort.created[lead]
            q = rng.random(n)
            day = (cohort.created[lead] + (q * life).astype(np.int64)) // DAY * DAY
            t = np.clip(day + 8 * 3600 + rng.integers(0, 3 * 3600, n), cohort.created[lead] + 60, cal.end - 1)
            order = lead_time_order(lead, t)
            lead, t, q = lead[order], t[order], q[order]
            active = cal.active(t, rng.random(n))
            campaign = np.where((active >= 0) & (rng.random(n) < 0.6),
                                _campaign_codes(cal)[np.maximum(active, 0)], _NEWSLETTER)
            subject = _SUBJECT_START[campaign] + (rng.random(n) * _SUBJECT_COUNT[campaign]).astype(np.int64)
            frames[name] = EventFrame.build(S, lead, t, name, campaign=campaign, subject=subject), q
        elif name in ("ebook_download", "whitepaper_download", "webinar_registered"):
            stage = np.maximum(ph - (rng.random(n) < 0.25), 0)
            title = _title(name.split("_")[0], stage, rng.random(n))
            frames[name] = EventFrame.build(S, lead, t, name, title=title, content_stage=stage), tl.q[idx]
        elif name == "social_like" or name == "social_share":
            network = pick(rng.random(n), V.NETWORK_WEIGHTS)
            frames[name] = EventFrame.build(S, lead, t, name, network=network), tl.q[idx]
        elif name == "form_submit":
            frames[name] = EventFrame.build(S, lead, t, name, form="contact"), tl.q[idx]
        else:
            frames[name] = EventFrame.build(S, lead, t, name), tl.q[idx]
    return frames


def _email(rng: np.random.Generator, sent: EventFrame, tl: Timeline, q: np.ndarray, cohort: Cohort,
           decaying: np.ndarray, end: int) -> list[EventFrame]:
    """Bounces and unsubscribes end a lead's e-mail; opens fade for leads whose interest fades.

    `sent` must be in lead-then-time order, as base events are.
    """
    n = len(cohort)
    fit, intent = cohort.fit, cohort.intent
    leads, first = np.unique(sent.lead, return_index=True)
    per_lead = np.diff(np.append(first, len(sent)))
    cut = np.full(n, np.iinfo(np.int64).max)
    bounced = rng.random(len(leads)) < 0.03
    cut[leads[bounced]] = sent.t[first[bounced]]
    unsub = ~bounced & (rng.random(len(leads)) < np.where(intent[leads] < -0.5, 0.10, 0.04))
    which = first[unsub] + (rng.random(int(unsub.sum())) * per_lead[unsub]).astype(np.int64)
    unsub_t = later(rng, sent.t[which], 7200)
    cut[leads[unsub]] = unsub_t
    keep = sent.t <= cut[sent.lead]
    bounced_lead = np.zeros(n, dtype=bool)
    bounced_lead[leads[bounced]] = True
    sent, q = sent.select(keep), q[keep]

    p_open = B2B_STEPS["email_open"].p(fit, intent)[sent.lead] * np.where(decaying[sent.lead], np.exp(-2.5 * q), 1)
    opened = sent.select((rng.random(len(sent)) < p_open) & ~bounced_lead[sent.lead])
    opened.t = later(rng, opened.t, 6 * 3600, 60)
    opened.type[:] = S.types.index("email_open")
    opened = opened.select((opened.t < end) & (opened.t <= cut[opened.lead]))
    p_click = B2B_STEPS["email_click"].p(fit, intent)[opened.lead]
    clicked = opened.select(rng.random(len(opened)) < p_click)
    clicked.t = later(rng, clicked.t, 180)
    clicked.type[:] = S.types.index("email_click")
    clicked = clicked.select(clicked.t < end)
    bounce_leads = leads[bounced]
    return [
        sent, opened, clicked,
        EventFrame.build(S, bounce_leads, sent.t[np.searchsorted(sent.lead, bounce_leads)] + 30, "email_bounce"),
        EventFrame.build(S, leads[unsub], unsub_t, "unsubscribe").select(unsub_t < end),
    ]


def _content_follow_ups(rng: np.random.Generator, base: dict[str, tuple[EventFrame, np.ndarray]],
                        cohort: Cohort, end: int) -> list[EventFrame]:
    """Gated content comes with its form; some registrants attend the webinar days later."""
    out: list[EventFrame] = []
    ebooks = base["ebook_download"][0]
    gated = ebooks.select(rng.random(len(ebooks)) < 0.9)
    out.append(EventFrame.build(S, gated.lead, gated.t - 20, "form_submit", form="ebook"))
    registered = base["webinar_registered"][0]
    out.append(EventFrame.build(S, registered.lead, registered.t - 10, "form_submit", form="webinar"))
    p_attend = B2B_STEPS["webinar_attended"].p(cohort.fit, cohort.intent)[registered.lead]
    attended = registered.select(rng.random(len(registered)) < p_attend)
    attended.t = attended.t + rng.integers(2 * DAY, 12 * DAY, len(attended))
    attended.type[:] = S.types.index("webinar_attended")
    out.append(attended.select(attended.t < end))
    return out


def _newsletter(rng: np.random.Generator, tl: Timeline, cohort: Cohort) -> list[EventFrame]:
    leads = np.flatnonzero(rng.random(len(cohort)) < B2B_STEPS["newsletter"].p(cohort.fit, cohort.intent))
    t = tl.t[pick_event(rng, tl, leads, np.zeros(len(leads)))] + 20
    return [EventFrame.build(S, leads, t - 5, "form_submit", form="newsletter"),
            EventFrame.build(S, leads, t, "newsletter_subscribed")]


def _sales(rng: np.random.Generator, tl: Timeline, cohort: Cohort, reach_bofu: np.ndarray,
           q_bofu: np.ndarray, cal: Calendar) -> list[EventFrame]:
    """Demo or quote request, then sales: accepted or rejected, opportunity, won or lost."""
    n, end = len(cohort), cal.end
    fit, intent = cohort.fit, cohort.intent
    steps = B2B_STEPS
    asks = reach_bofu & (rng.random(n) < steps["hand_over"].p(fit, intent))
    hot = ~asks & (rng.random(n) < 0.004 * np.exp(intent))  # straight to a quote, no journey first
    leads = np.flatnonzero(asks)
    t_ask = tl.t[pick_event(rng, tl, leads, np.minimum(q_bofu[leads], 1.0))] + 60
    hot_leads = np.flatnonzero(hot)
    leads = np.concatenate([leads, hot_leads])
    t_ask = np.concatenate([t_ask, cohort.created[hot_leads] + rng.integers(30, 900, len(hot_leads))])
    keep = t_ask < end
    leads, t_ask = leads[keep], t_ask[keep]
    demo = rng.random(len(leads)) < 0.65
    out = [
        EventFrame.build(S, leads[demo], t_ask[demo], "demo_request"),
        EventFrame.build(S, leads[demo], t_ask[demo] - 2, "form_submit", form="demo"),
        EventFrame.build(S, leads[~demo], t_ask[~demo], "quote_request"),
        EventFrame.build(S, leads[~demo], t_ask[~demo] - 2, "form_submit", form="quote"),
    ]
    # Pricing is what ready buyers look at just before they ask.
    views = 1 + rng.poisson(1.2, len(leads))
    v_lead = np.repeat(leads, views)
    v_t = np.repeat(t_ask, views) - rng.integers(60, 1800, int(views.sum()))
    page_type = np.full(len(v_lead), V.PAGE_TYPES.index("pricing"))
    channel = np.where(rng.random(len(v_lead)) < 0.6, S.code("channel", "direct"), S.code("channel", "organic"))
    out.append(_page_views(rng, v_lead, np.maximum(v_t, cohort.created[v_lead]), page_type, channel, cal))

    accepted = rng.random(len(leads)) < steps["sales_accepted"].p(fit, intent)[leads]
    t_review = later(rng, t_ask, 2 * DAY, 3600)
    ok = t_review < end
    out.append(EventFrame.build(S, leads[accepted & ok], t_review[accepted & ok], "sales_accepted"))
    out.append(EventFrame.build(S, leads[~accepted & ok], t_review[~accepted & ok], "sales_rejected"))
    opp = accepted & ok & (rng.random(len(leads)) < steps["opportunity"].p(fit, intent)[leads])
    t_opp = later(rng, t_review, 7 * DAY, 3600)
    opp &= t_opp < end
    size = cohort.traits["employees"][leads]
    amount = np.round(8000 * (size / 60) ** 0.3 * np.exp(rng.normal(0, 0.35, len(leads))), -2)
    out.append(EventFrame.build(S, leads[opp], t_opp[opp], "opportunity_created", amount=amount[opp]))
    won = rng.random(len(leads)) < steps["deal_won"].p(fit, intent)[leads]
    t_close = later(rng, t_opp, 40 * DAY, 14 * DAY)
    closed = opp & (t_close < end)
    final = np.round(amount * rng.uniform(0.85, 1.05, len(leads)), -2)
    out.append(EventFrame.build(S, leads[closed & won], t_close[closed & won], "deal_won",
                                amount=final[closed & won]))
    reason = pick(rng.random(len(leads)), V.LOST_REASON_WEIGHTS)
    out.append(EventFrame.build(S, leads[closed & ~won], t_close[closed & ~won], "deal_lost",
                                reason=reason[closed & ~won]))
    return out


def make_events(rng: np.random.Generator, cohort: Cohort, cal: Calendar, events_per_lead: float) -> EventFrame:
    n = len(cohort)
    fit, intent = cohort.fit, cohort.intent
    a = B2B_ACTIVITY
    life = (cal.end - cohort.created) / cal.span
    weight = np.exp(a["fit"] * fit + a["intent"] * intent + rng.normal(0, a["noise"], n)) * life**0.8
    scale = events_per_lead / DEFAULT_EVENTS_PER_LEAD["b2b"]
    mean = max(1.0, BASE_SHARE * events_per_lead - (1 - scale) * FIXED_EVENTS)
    counts = event_counts(rng, weight, mean, cap=int(max(200, 40 * events_per_lead)))
    decaying = rng.random(n) < 0.35
    skew = np.where(decaying, 2.5, np.where(intent > 1.0, 0.7, 1.0))
    tl = place(rng, counts, cohort.created, cal.end, skew)

    reach_mofu = rng.random(n) < B2B_STEPS["reach_mofu"].p(fit, intent)
    reach_bofu = reach_mofu & (rng.random(n) < B2B_STEPS["reach_bofu"].p(fit, intent))
    q_mofu = np.where(reach_mofu, rng.uniform(0.1, 0.6, n), 2.0)
    q_bofu = np.where(reach_bofu, q_mofu + rng.uniform(0.2, 0.7, n) * (1 - q_mofu), 2.0)
    phase = ((tl.q >= q_mofu[tl.lead]).astype(np.int64) + (tl.q >= q_bofu[tl.lead])).astype(np.int64)

    base = _base_events(rng, tl, phase, cohort, cal)
    sent, sent_q = base.pop("email_sent")
    frames = [f for f, _ in base.values()]
    frames += _email(rng, sent, tl, sent_q, cohort, decaying, cal.end)
    frames += _content_follow_ups(rng, base, cohort, cal.end)
    frames += _newsletter(rng, tl, cohort)
    frames += _sales(rng, tl, cohort, reach_bofu, q_bofu, cal)
    frame = EventFrame.concat(frames)
    # Lead-ins placed seconds before an event (a form before its download) never precede the lead.
    frame.t = np.maximum(frame.t, cohort.created[frame.lead])
    return frame.sorted()
