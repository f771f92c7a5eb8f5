-- foreign_shop.yaml written by hand as one DuckDB query (placeholders as in foreign_product.sql).
-- columns: type, quantity, value, device, campaign, duration_s
agg AS (
    SELECT lead_id,
        count(*) FILTER (WHERE type = 'cart_add' AND quantity < 50 AND ts > {at} - 14 * 86400000000) AS cart,
        count(*) FILTER (WHERE type = 'cart_add' AND quantity >= 50 AND ts > {at} - 30 * 86400000000) AS bulk,
        sum(power(0.5, ({at} - ts) / 1e6 / (45 * 86400.0))) FILTER (WHERE type = 'checkout') AS checkout,
        count(*) FILTER (WHERE type = 'checkout' AND value > 2500 AND ts > {at} - 365 * 86400000000) AS big_checkout,
        count(*) FILTER (WHERE type = 'refund' AND ts > {at} - 180 * 86400000000) AS refunds,
        count(*) FILTER (WHERE type = 'refund' AND value <= -500) AS big_refund,
        count(*) FILTER (WHERE type = 'review_posted') AS reviews,
        sum(greatest(0.0, 1.0 - ({at} - ts) / 1e6 / (365 * 86400.0))) FILTER (WHERE type = 'referral') AS referrals,
        count(*) FILTER (WHERE type = 'search' AND device <> 'tablet' AND ts > {at} - 7 * 86400000000) AS searches,
        count(*) FILTER (WHERE type IN ('page_view', 'pricing_view') AND device IN ('mobile', 'tablet')
                         AND ts > {at} - 30 * 86400000000) AS mobile,
        count(*) FILTER (WHERE type = 'email_click' AND campaign NOT IN ('newsletter-03', 'retarget')
                         AND ts > {at} - 90 * 86400000000) AS clicks,
        max(ts) FILTER (WHERE type = 'meeting_booked') AS meeting,
        count(*) FILTER (WHERE type = 'call_outbound' AND duration_s BETWEEN 120 AND 3600
                         AND ts > {at} - 120 * 86400000000) AS calls,
        count(*) FILTER (WHERE type = 'upgrade' AND ts > {at} - 365 * 86400000000) AS upgrades,
        count(*) FILTER (WHERE type = 'downgrade' AND ts > {at} - 365 * 86400000000) AS downgrades,
        count(*) FILTER (WHERE type = 'chat_started' AND ts > {at} - 30 * 86400000000) AS chats,
        count(*) FILTER (WHERE type = 'event_visit' AND ts > {at} - 365 * 86400000000) AS visits,
        sum(value) FILTER (WHERE type = 'checkout' AND ts > {at} - 180 * 86400000000) AS spend,
        avg(quantity) FILTER (WHERE type = 'cart_add' AND ts > {at} - 90 * 86400000000) AS basket,
        max(value) FILTER (WHERE type = 'nps_response') AS nps_max,
        count(*) FILTER (WHERE type = 'checkout' AND ts > {at} - 365 * 86400000000) AS checkouts_365d,
        max(ts) FILTER (WHERE type = 'checkout') AS last_checkout,
        max(ts) FILTER (WHERE type = 'signup') AS last_signup
    FROM ev GROUP BY lead_id
),
raw AS (
    SELECT coalesce(l.id, a.lead_id) AS lead_id,
        least(coalesce(a.cart, 0) * 2.0, 20.0)
        + least(coalesce(a.bulk, 0) * 5.0, 15.0)
        + least(15.0 * coalesce(a.checkout, 0), 60.0)
        + least(coalesce(a.big_checkout, 0) * 10.0, 30.0)
        + greatest(coalesce(a.refunds, 0) * -12.0, -36.0)
        + (CASE WHEN a.big_refund > 0 THEN -20 ELSE 0 END)
        + least(coalesce(a.reviews, 0) * 6.0, 18.0)
        + 10.0 * coalesce(a.referrals, 0)
        + least(coalesce(a.searches, 0) * 0.25, 5.0)
        + least(coalesce(a.mobile, 0) * 0.1, 3.0)
        + least(coalesce(a.clicks, 0) * 1.0, 10.0)
        + coalesce(20.0 * power(0.5, ({at} - a.meeting) / 1e6 / (60 * 86400.0)), 0)
        + least(coalesce(a.calls, 0) * 4.0, 16.0)
        + coalesce(a.upgrades, 0) * 25.0
        - coalesce(a.downgrades, 0) * 25.0
        + least(coalesce(a.chats, 0) * 1.0, 5.0)
        + least(coalesce(a.visits, 0) * 12.0, 24.0)
        + (CASE WHEN coalesce(a.spend, 0) > 2000 THEN 30 ELSE 0 END)
        + (CASE WHEN a.basket >= 20 THEN 10 ELSE 0 END)
        + (CASE WHEN a.nps_max >= 9 THEN 10 ELSE 0 END)
        + (CASE WHEN coalesce(a.checkouts_365d, 0) = 0 THEN -15 ELSE 0 END)
        + (CASE WHEN a.last_checkout <= {at} - 180 * 86400000000 THEN -10 ELSE 0 END)
        + (CASE WHEN a.last_signup > {at} - 30 * 86400000000 THEN 10 ELSE 0 END)
        + (CASE WHEN l.industry IN ('Retail', 'E-Commerce') THEN 10 ELSE 0 END)
        + (CASE WHEN l.employees < 50 THEN 5 ELSE 0 END)
        + (CASE WHEN l.annual_revenue BETWEEN 1000000 AND 100000000 THEN 10 ELSE 0 END)
        + (CASE WHEN contains(lower(l.plan), 'pro') THEN 5 ELSE 0 END)
        + (CASE WHEN l.country IS NULL THEN -5 ELSE 0 END) AS value_raw
    FROM read_parquet({leads}) AS l FULL JOIN agg AS a ON a.lead_id = l.id
),
dims AS (SELECT lead_id, least(greatest(value_raw, -50), 250) AS value FROM raw)
SELECT lead_id, value, value AS score,
    CASE WHEN value >= 100 THEN 'vip' WHEN value >= 25 THEN 'buyer' WHEN value > 0 THEN 'browser'
         WHEN value = 0 THEN 'zero' ELSE 'negative' END AS value_label
FROM dims
