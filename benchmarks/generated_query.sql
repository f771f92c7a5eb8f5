-- The b2b-saas example without lifecycle (batch_rescore.rules_only_model) written by hand as one DuckDB
-- query over `leadscore generate` data: the baseline a data team would write. Placeholders: {leads},
-- {events} (Parquet paths), {at} (epoch micros). Scores, dimensions and the two labels (no breakdown,
-- no duplicate check: the generated ids are unique).
WITH ev AS (
    SELECT lead_id, type, epoch_us("timestamp") AS ts, page_type, channel
    FROM read_parquet({events})
),
agg AS (
    SELECT lead_id,
        sum(power(0.5, ({at} - ts) / 1e6 / (30 * 86400.0)))
            FILTER (WHERE type = 'page_view' AND ts > {at} - 90 * 86400000000
                    AND page_type IN ('home', 'docs', 'contact')) AS site,
        sum(power(0.5, ({at} - ts) / 1e6 / (30 * 86400.0)))
            FILTER (WHERE type = 'page_view' AND ts > {at} - 90 * 86400000000 AND page_type = 'blog') AS blog,
        sum(power(0.5, ({at} - ts) / 1e6 / (30 * 86400.0)))
            FILTER (WHERE type = 'page_view' AND ts > {at} - 90 * 86400000000
                    AND page_type IN ('product', 'case-study')) AS product,
        sum(power(0.5, ({at} - ts) / 1e6 / (30 * 86400.0)))
            FILTER (WHERE type = 'page_view' AND ts > {at} - 90 * 86400000000 AND page_type = 'pricing') AS pricing,
        count(*) FILTER (WHERE type = 'page_view' AND ts > {at} - 90 * 86400000000 AND channel = 'organic') AS organic,
        count(*) FILTER (WHERE type = 'page_view' AND ts > {at} - 180 * 86400000000 AND page_type = 'careers') AS careers,
        sum(power(0.5, ({at} - ts) / 1e6 / (60 * 86400.0)))
            FILTER (WHERE type = 'ebook_download' AND ts > {at} - 180 * 86400000000) AS ebook,
        sum(power(0.5, ({at} - ts) / 1e6 / (60 * 86400.0)))
            FILTER (WHERE type = 'whitepaper_download' AND ts > {at} - 180 * 86400000000) AS whitepaper,
        count(*) FILTER (WHERE type = 'webinar_registered' AND ts > {at} - 180 * 86400000000) AS registered,
        sum(power(0.5, ({at} - ts) / 1e6 / (60 * 86400.0)))
            FILTER (WHERE type = 'webinar_attended' AND ts > {at} - 180 * 86400000000) AS attended,
        count(*) FILTER (WHERE type = 'newsletter_subscribed') AS newsletter,
        count(*) FILTER (WHERE type = 'email_open' AND ts > {at} - 90 * 86400000000) AS opens,
        sum(power(0.5, ({at} - ts) / 1e6 / (30 * 86400.0)))
            FILTER (WHERE type = 'email_click' AND ts > {at} - 90 * 86400000000) AS clicks,
        count(*) FILTER (WHERE type = 'chat_conversation' AND ts > {at} - 30 * 86400000000) AS chats,
        count(*) FILTER (WHERE type IN ('social_like', 'social_share') AND ts > {at} - 90 * 86400000000) AS social,
        max(ts) FILTER (WHERE type = 'demo_request' AND ts > {at} - 90 * 86400000000) AS demo,
        max(ts) FILTER (WHERE type = 'quote_request' AND ts > {at} - 90 * 86400000000) AS quote,
        count(*) FILTER (WHERE type = 'unsubscribe') AS unsubscribed,
        count(*) FILTER (WHERE type = 'email_bounce') AS bounced,
        count(*) FILTER (WHERE type IN ('page_view', 'form_submit', 'ebook_download', 'whitepaper_download',
                                        'webinar_registered', 'webinar_attended', 'email_open', 'email_click',
                                        'chat_conversation', 'social_like', 'social_share', 'demo_request',
                                        'quote_request') AND ts > {at} - 90 * 86400000000) AS active_90d,
        count(*) FILTER (WHERE type IN ('demo_request', 'quote_request') AND ts > {at} - 30 * 86400000000) AS asked_30d
    FROM ev WHERE ts <= {at} GROUP BY lead_id
),
raw AS (
    SELECT l.id AS lead_id, l.employees, l.revenue,
        (CASE WHEN l.employees BETWEEN 10 AND 49 THEN 10 WHEN l.employees BETWEEN 50 AND 99 THEN 50
              WHEN l.employees BETWEEN 100 AND 200 THEN 100 WHEN l.employees > 200 AND l.employees < 1000 THEN 60
              WHEN l.employees >= 1000 THEN 30 ELSE 0 END)
        + (CASE WHEN l.seniority IN ('c-level', 'vp', 'director') THEN 25 WHEN l.seniority = 'manager' THEN 10 ELSE 0 END)
        + (CASE WHEN l.department IN ('marketing', 'sales') THEN 15 ELSE 0 END)
        + (CASE WHEN l.industry IN ('software', 'finance', 'consulting', 'logistics') THEN 10
                WHEN l.industry = 'government' THEN -10 ELSE 0 END)
        + (CASE WHEN l.region IN ('benelux', 'nordics', 'dach') THEN 15 WHEN l.region = 'other' THEN -5 ELSE 0 END)
          AS fit_raw,
        least(2.0 * coalesce(a.site, 0), 10.0)
        + least(3.0 * coalesce(a.blog, 0), 15.0)
        + least(5.0 * coalesce(a.product, 0), 25.0)
        + least(15.0 * coalesce(a.pricing, 0), 45.0)
        + least(3.0 * coalesce(a.organic, 0), 9.0)
        + greatest(-15.0 * coalesce(a.careers, 0), -30.0)
        + least(20.0 * coalesce(a.ebook, 0), 40.0)
        + least(20.0 * coalesce(a.whitepaper, 0), 40.0)
        + least(5.0 * coalesce(a.registered, 0), 10.0)
        + least(25.0 * coalesce(a.attended, 0), 50.0)
        + (CASE WHEN coalesce(a.newsletter, 0) > 0 THEN 10 ELSE 0 END)
        + least(1.0 * coalesce(a.opens, 0), 5.0)
        + least(5.0 * coalesce(a.clicks, 0), 25.0)
        + least(15.0 * coalesce(a.chats, 0), 30.0)
        + least(2.0 * coalesce(a.social, 0), 10.0)
        + coalesce(80.0 * greatest(0.0, 1.0 - ({at} - a.demo) / 1e6 / (90 * 86400.0)), 0)
        + coalesce(80.0 * greatest(0.0, 1.0 - ({at} - a.quote) / 1e6 / (90 * 86400.0)), 0)
        + (CASE WHEN coalesce(a.unsubscribed, 0) > 0 THEN -30 ELSE 0 END)
        + (CASE WHEN coalesce(a.bounced, 0) > 0 THEN -20 ELSE 0 END)
        + (CASE WHEN coalesce(a.active_90d, 0) = 0 THEN -20 ELSE 0 END) AS engagement_raw,
        coalesce(a.asked_30d, 0) AS asked_30d,
        coalesce(a.newsletter, 0) > 0 AND coalesce(a.organic, 0) > 0 AS subscribed_searcher
    FROM read_parquet({leads}) AS l LEFT JOIN agg AS a ON a.lead_id = l.id
),
dims AS (
    SELECT *, greatest(fit_raw, 0) AS fit, least(greatest(engagement_raw, -50), 250) AS engagement FROM raw
)
SELECT lead_id, fit, engagement, fit + engagement AS score,
    CASE WHEN asked_30d > 0 OR engagement >= 100 THEN 'hot'
         WHEN engagement >= 25 OR subscribed_searcher THEN 'warm' ELSE 'cold' END AS temperature,
    CASE WHEN revenue >= 50000000 OR employees >= 1000 THEN 'large'
         WHEN revenue >= 10000000 OR employees >= 100 THEN 'mid' ELSE 'small' END AS company_size
FROM dims
