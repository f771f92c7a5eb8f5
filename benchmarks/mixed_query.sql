-- The mixed benchmark model (mixed_model.yaml) written by hand as one DuckDB query: the baseline a data
-- team would write. Placeholders: {leads}, {events} (Parquet paths), {at} (epoch micros), {dedupe}
-- (empty, or the QUALIFY clause in mixed_query_dedupe.sql: repeated (lead, id) pairs count once, the
-- first file / row wins). Scores, dimensions and the label only (no breakdown). Regular expressions
-- use DuckDB's RE2, `contains` lower() / strpos.
WITH raw AS (
    SELECT lead_id, id, type, epoch_us("timestamp") AS ts, url, source, subject, amount,
           filename, file_row_number
    FROM read_parquet({events}, filename = true, file_row_number = true)
),
ev AS (
    SELECT * FROM raw {dedupe}
),
agg AS (
    SELECT lead_id,
        count(*) FILTER (WHERE type = 'web.visit' AND ts > {at} - 30 * 86400000000
                         AND regexp_matches(url, '^https://www\.example\.com/(pricing|plans|preise|tarifs)/')) AS pricing,
        sum(power(0.5, ({at} - ts) / 1e6 / (14 * 86400.0)))
            FILTER (WHERE type IN ('web.visit', 'mail.click') AND strpos(lower(source), 'linkedin') > 0) AS linkedin,
        count(*) FILTER (WHERE type = 'mail.open' AND ts > {at} - 60 * 86400000000
                         AND regexp_matches(subject, '(?i)angebot|offer|devis')) AS offer,
        sum(power(0.5, ({at} - ts) / 1e6 / (30 * 86400.0))) FILTER (WHERE type = 'mail.click') AS click,
        count(*) FILTER (WHERE type = 'form.submit') AS form,
        count(*) FILTER (WHERE type = 'call.logged' AND ts > {at} - 90 * 86400000000) AS calls,
        sum(greatest(0.0, 1.0 - ({at} - ts) / 1e6 / (365 * 86400.0))) FILTER (WHERE type = 'order') AS orders,
        count(*) FILTER (WHERE type = 'web.visit' AND ts > {at} - 7 * 86400000000) AS visits_7d,
        count(*) FILTER (WHERE type IN ('mail.open', 'mail.click') AND ts > {at} - 60 * 86400000000) AS mails_60d,
        max(ts) FILTER (WHERE type = 'web.visit') AS last_visit,
        sum(amount) FILTER (WHERE type = 'order' AND ts > {at} - 365 * 86400000000) AS spend,
        count(*) FILTER (WHERE type = 'web.visit' AND strpos(lower(url), '/docs/') > 0) AS docs,
        count(*) FILTER (WHERE type = 'mail.open' AND strpos(lower(subject), 'newsletter') > 0) AS newsletters,
        count(*) FILTER (WHERE type = 'mail.open' AND ts > {at} - 30 * 86400000000) AS opens_30d,
        count(*) FILTER (WHERE type = 'mail.click' AND ts > {at} - 30 * 86400000000) AS clicks_30d
    FROM ev WHERE ts <= {at} GROUP BY lead_id
),
scored AS (
    SELECT l.id AS lead_id,
        (CASE WHEN regexp_matches(l.job_title, '(?i)\b(chief|c[eomt]o|vp|vice president|head of|director)\b')
              THEN 25 ELSE 0 END)
        + (CASE WHEN strpos(lower(l.job_title), lower('GESCHÄFTSFÜHR')) > 0 THEN 20 ELSE 0 END)
        + (CASE WHEN strpos(lower(l.city), 'münchen') > 0 THEN 5 ELSE 0 END)
        + (CASE WHEN l.country IN ('DE', 'AT', 'CH') THEN 5 ELSE 0 END)
        + (CASE WHEN l.employees BETWEEN 50 AND 2000 THEN 10 ELSE 0 END)
        + (CASE WHEN regexp_matches(l.industry, '(?i)^software$') THEN 5 ELSE 0 END) AS fit_raw,
        least(coalesce(a.pricing, 0) * 5.0, 25.0)
        + 2.0 * coalesce(a.linkedin, 0)
        + least(coalesce(a.offer, 0) * 3.0, 12.0)
        + 4.0 * coalesce(a.click, 0)
        + (CASE WHEN coalesce(a.form, 0) > 0 THEN 15 ELSE 0 END)
        + 8.0 * coalesce(a.calls, 0)
        + 20.0 * coalesce(a.orders, 0)
        + (CASE WHEN coalesce(a.visits_7d, 0) >= 5 THEN 10 ELSE 0 END)
        + (CASE WHEN coalesce(a.mails_60d, 0) = 0 THEN -10 ELSE 0 END)
        + (CASE WHEN a.last_visit <= {at} - 90 * 86400000000 THEN -15 ELSE 0 END)
        + (CASE WHEN coalesce(a.spend, 0) > 500 THEN 20 ELSE 0 END)
        + least(coalesce(a.docs, 0) * 1.0, 10.0)
        + least(coalesce(a.newsletters, 0) * 0.5, 5.0)
        + (CASE WHEN coalesce(a.opens_30d, 0) >= 10 AND coalesce(a.clicks_30d, 0) = 0 THEN -5 ELSE 0 END)
          AS engagement_raw
    FROM read_parquet({leads}) AS l LEFT JOIN agg AS a ON a.lead_id = l.id
)
SELECT lead_id, least(fit_raw, 60) AS fit, least(greatest(engagement_raw, -30), 200) AS engagement,
       least(fit_raw, 60) + least(greatest(engagement_raw, -30), 200) AS score,
       CASE WHEN least(fit_raw, 60) + least(greatest(engagement_raw, -30), 200) >= 120 THEN 'hot'
            WHEN least(fit_raw, 60) + least(greatest(engagement_raw, -30), 200) >= 50 THEN 'warm'
            ELSE 'cold' END AS temperature
FROM scored
