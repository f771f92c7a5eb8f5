-- foreign_product.yaml written by hand as one DuckDB query (see foreign_data.py). Placeholders: {leads}
-- (Parquet path; a lead found only in the events is scored without attributes, as `leadscore batch` does),
-- {ev} (the events CTE the runner writes: the columns below, `ts` in epoch micros, the type NULL after T:
-- no filter counts those; duplicates dropped or not), {at} (epoch micros). Scores, dimensions, labels.
-- columns: type, quantity, feature, device, value, duration_s
agg AS (
    SELECT lead_id,
        count(*) FILTER (WHERE type = 'api_call' AND quantity >= 100 AND ts > {at} - 30 * 86400000000) AS api,
        sum(power(0.5, ({at} - ts) / 1e6 / (14 * 86400.0)))
            FILTER (WHERE type = 'feature_used' AND feature IN ('reports', 'Dashboards', 'sso', 'SAML SSO')) AS feats,
        count(*) FILTER (WHERE type = 'feature_used' AND regexp_matches(feature, '(?i)^(saml )?sso$')) AS sso,
        count(*) FILTER (WHERE type = 'invite_sent' AND ts > {at} - 90 * 86400000000) AS invites,
        count(*) FILTER (WHERE type = 'export' AND quantity BETWEEN 10 AND 1000 AND device IS NOT NULL
                         AND ts > {at} - 60 * 86400000000) AS exports,
        max(ts) FILTER (WHERE type IN ('trial_started', 'trial_extended')) AS trial,
        count(*) FILTER (WHERE type = 'login' AND ts > {at} - 7 * 86400000000) AS logins_7d,
        count(*) FILTER (WHERE type = 'login' AND ts > {at} - 30 * 86400000000) AS logins_30d,
        max(ts) FILTER (WHERE type = 'login') AS last_login,
        sum(value) FILTER (WHERE type = 'invoice_paid' AND ts > {at} - 365 * 86400000000) AS paid,
        max(value) FILTER (WHERE type = 'invoice_paid') AS max_invoice,
        avg(duration_s) FILTER (WHERE type = 'call_inbound' AND ts > {at} - 180 * 86400000000) AS call_avg,
        count(*) FILTER (WHERE type = 'payment_failed' AND ts > {at} - 60 * 86400000000) AS failed,
        count(*) FILTER (WHERE type = 'unsubscribe') AS unsub,
        count(*) FILTER (WHERE type = 'support_ticket' AND ts > {at} - 30 * 86400000000) AS tickets,
        min(value) FILTER (WHERE type = 'nps_response' AND ts > {at} - 180 * 86400000000) AS nps_min
    FROM ev GROUP BY lead_id
),
raw AS (
    SELECT coalesce(l.id, a.lead_id) AS lead_id, l.employees,
        least(coalesce(a.api, 0) * 0.5, 40.0)
        + least(3.0 * coalesce(a.feats, 0), 30.0)
        + (CASE WHEN a.sso > 0 THEN 10 ELSE 0 END)
        + least(coalesce(a.invites, 0) * 5.0, 25.0)
        + least(coalesce(a.exports, 0) * 1.0, 10.0)
        + coalesce(20.0 * greatest(0.0, 1.0 - ({at} - a.trial) / 1e6 / (60 * 86400.0)), 0)
        + (CASE WHEN a.logins_7d >= 3 THEN 10 ELSE 0 END)
        + (CASE WHEN coalesce(a.paid, 0) >= 1000 THEN 25 ELSE 0 END)
        + (CASE WHEN a.max_invoice > 5000 THEN 10 ELSE 0 END)
        + (CASE WHEN a.call_avg BETWEEN 60 AND 600 THEN 5 ELSE 0 END) AS usage_raw,
        (CASE WHEN regexp_matches(l.email, '(?i)@(gmail|yahoo|hotmail|outlook|gmx|web)\.(com|de|fr)$') THEN -10 ELSE 0 END)
        + (CASE WHEN l.email IS NOT NULL THEN 2 ELSE 0 END)
        + (CASE WHEN l.employees BETWEEN 200 AND 5000 THEN 15 ELSE 0 END)
        + (CASE WHEN l.annual_revenue >= 10000000 THEN 10 ELSE 0 END)
        + (CASE WHEN l.plan IN ('pro', 'Enterprise') THEN 10 ELSE 0 END)
        + (CASE WHEN l.country NOT IN ('US', 'CA') THEN 3 ELSE 0 END)
        + (CASE WHEN l.is_partner THEN 8 ELSE 0 END) AS fit_raw,
        greatest(coalesce(a.failed, 0) * -15.0, -45.0)
        + (CASE WHEN coalesce(a.logins_30d, 0) = 0 THEN -20 ELSE 0 END)
        + (CASE WHEN a.last_login <= {at} - 60 * 86400000000 THEN -25 ELSE 0 END)
        + (CASE WHEN a.unsub > 0 THEN -30 ELSE 0 END)
        + (CASE WHEN a.tickets >= 5 THEN -10 ELSE 0 END)
        + (CASE WHEN a.nps_min <= 6 THEN -5 ELSE 0 END) AS risk_raw
    FROM read_parquet({leads}) AS l FULL JOIN agg AS a ON a.lead_id = l.id
),
dims AS (
    SELECT lead_id, employees, least(usage_raw, 150) AS usage, least(greatest(fit_raw, 0), 60) AS fit,
           least(greatest(risk_raw, -80), 0) AS risk
    FROM raw
)
SELECT lead_id, usage, fit, risk, usage + fit + risk AS score,
    CASE WHEN usage >= 100 THEN 'champion' WHEN usage + fit + risk > 40 THEN 'active'
         WHEN risk <= -40 THEN 'at-risk' ELSE 'dormant' END AS health,
    CASE WHEN employees >= 1000 THEN 'enterprise' WHEN employees >= 50 THEN 'mid'
         WHEN employees IS NOT NULL THEN 'small' END AS tier
FROM dims
