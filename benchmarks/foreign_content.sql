-- foreign_content.yaml written by hand as one DuckDB query (placeholders as in foreign_product.sql).
-- `contains` is the spec's (Python's) lower case: DuckDB's lower() agrees but on "İ" (Python: "i" and a
-- combining dot U+0307) and a final capital sigma (not in this data's needles' reach), so a needle with
-- an "i" is searched in a text whose "İ" is first replaced by that pair.
-- columns: type, path, title, referrer, device, campaign, duration_s
agg AS (
    SELECT lead_id,
        count(*) FILTER (WHERE type IN ('page_view', 'pricing_view') AND ts > {at} - 30 * 86400000000
            AND regexp_matches(path, '^/(pricing|Pricing|de/preise|fr/tarifs|ja/価格|tr/fiyatlandırma|el/τιμές)(/|$)')) AS pricing,
        sum(power(0.5, ({at} - ts) / 1e6 / (21 * 86400.0)))
            FILTER (WHERE type = 'docs_view' AND starts_with(path, '/docs/api/')) AS api_docs,
        count(*) FILTER (WHERE type IN ('blog_read', 'docs_view') AND ts > {at} - 90 * 86400000000
            AND regexp_matches(title, '(?i)\b(ai|ki|ml)\b|künstliche intelligenz')) AS ai,
        count(*) FILTER (WHERE type = 'blog_read' AND ts > {at} - 180 * 86400000000
            AND contains(lower(replace(path, 'İ', 'i' || chr(775))), 'künstliche-intelligenz')) AS ki_path,
        count(*) FILTER (WHERE type = 'blog_read' AND regexp_matches(path, '(?i)ανάλυση|συνέδριο')) AS greek,
        count(*) FILTER (WHERE type IN ('page_view', 'blog_read')
            AND contains(lower(replace(path, 'İ', 'i' || chr(775))), 'istanbul')) AS istanbul,
        sum(power(0.5, ({at} - ts) / 1e6 / (7 * 86400.0)))
            FILTER (WHERE type IN ('page_view', 'docs_view', 'blog_read', 'pricing_view', 'download')
                    AND regexp_matches(referrer, '\blinkedin\b')) AS linkedin,
        count(*) FILTER (WHERE type = 'page_view' AND referrer IS NULL AND device IN ('desktop', 'Desktop')
            AND ts > {at} - 14 * 86400000000) AS direct,
        count(*) FILTER (WHERE type IN ('email_click', 'page_view') AND ts > {at} - 365 * 86400000000
            AND regexp_matches(campaign, '(?i)black[ _-]?friday')) AS black_friday,
        count(*) FILTER (WHERE type = 'email_click' AND contains(lower(campaign), 'große')) AS grosse,
        count(*) FILTER (WHERE type IN ('webinar_registered', 'email_open') AND ts > {at} - 60 * 86400000000
            AND contains(lower(campaign), 'συνέδριο')) AS sigma,
        count(*) FILTER (WHERE type = 'email_open'
            AND contains(lower(replace(campaign, 'İ', 'i' || chr(775))), 'indirim')) AS indirim,
        sum(greatest(0.0, 1.0 - ({at} - ts) / 1e6 / (120 * 86400.0)))
            FILTER (WHERE type = 'webinar_attended' AND duration_s > 900) AS webinars,
        max(ts) FILTER (WHERE type = 'demo_requested') AS demo,
        count(*) FILTER (WHERE type = 'video_play' AND ts > {at} - 60 * 86400000000
            AND regexp_matches(title, '^(Webinar|Case study):')) AS videos,
        count(*) FILTER (WHERE type = 'email_bounce') AS bounces,
        count(*) FILTER (WHERE type = 'download' AND ts > {at} - 30 * 86400000000) AS downloads,
        count(*) FILTER (WHERE type = 'email_click' AND ts > {at} - 60 * 86400000000) AS clicks_60d,
        count(*) FILTER (WHERE type = 'email_bounce' AND ts > {at} - 60 * 86400000000) AS bounces_60d,
        max(ts) FILTER (WHERE type = 'pricing_view') AS last_pricing,
        max(ts) FILTER (WHERE type = 'docs_view') AS last_docs
    FROM ev GROUP BY lead_id
),
raw AS (
    SELECT coalesce(l.id, a.lead_id) AS lead_id,
        least(2.0 * coalesce(a.api_docs, 0), 20.0)
        + least(coalesce(a.ai, 0) * 3.0, 15.0)
        + least(coalesce(a.ki_path, 0) * 1.0, 10.0)
        + least(coalesce(a.greek, 0) * 2.0, 6.0)
        + least(coalesce(a.istanbul, 0) * 1.0, 5.0)
        + least(coalesce(a.direct, 0) * 0.2, 4.0)
        + least(coalesce(a.sigma, 0) * 1.0, 5.0)
        + least(10.0 * coalesce(a.webinars, 0), 30.0)
        + coalesce(a.videos, 0) * 1.0
        + (CASE WHEN a.last_pricing > {at} - 7 * 86400000000 OR a.last_docs > {at} - 3 * 86400000000
                THEN 5 ELSE 0 END)
        + (CASE WHEN l.country IN ('DE', 'AT', 'CH') THEN 3 ELSE 0 END)
        + (CASE WHEN contains(lower(l.full_name), 'strasse') THEN 1 ELSE 0 END) AS interest_raw,
        least(coalesce(a.pricing, 0) * 4.0, 24.0)
        + 2.0 * coalesce(a.linkedin, 0)
        + least(coalesce(a.black_friday, 0) * 3.0, 9.0)
        + least(coalesce(a.grosse, 0) * 2.0, 8.0)
        + least(coalesce(a.indirim, 0) * 1.0, 3.0)
        + coalesce(30.0 * power(0.5, ({at} - a.demo) / 1e6 / (30 * 86400.0)), 0)
        + greatest(coalesce(a.bounces, 0) * -5.0, -20.0)
        + (CASE WHEN a.downloads >= 2 THEN 8 ELSE 0 END)
        + (CASE WHEN a.clicks_60d >= 1 AND coalesce(a.bounces_60d, 0) = 0 THEN 6 ELSE 0 END)
        + (CASE WHEN NOT coalesce(regexp_matches(l.job_title, '(?i)student|intern'), FALSE) THEN 2 ELSE 0 END)
        + (CASE WHEN regexp_matches(l.job_title,
               '(?i)\b(chief|vp|head of|founder|ceo|cto)\b|geschäftsführ|directeur|müdür|διευθυντής') THEN 10 ELSE 0 END)
        + (CASE WHEN regexp_matches(l.industry, '(?i)^(software|saas)$') THEN 5 ELSE 0 END) AS intent_raw
    FROM read_parquet({leads}) AS l FULL JOIN agg AS a ON a.lead_id = l.id
),
dims AS (
    SELECT lead_id, least(interest_raw, 100) AS interest, least(greatest(intent_raw, -20), 80) AS intent FROM raw
)
SELECT lead_id, interest, intent, interest + intent AS score,
    CASE WHEN interest + intent >= 60 THEN 'hot' WHEN intent >= 20 THEN 'warm' WHEN interest > 0 THEN 'curious'
         ELSE 'cold' END AS "stage-of-interest"
FROM dims
