-- all_trend_alerts: every alert the rules raise: findings that meet a rule of the alert_rules table (data, not
-- code). trend_alerts leaves out the muted ones.
-- Grain: one row per (rule, indicator_id, geo, period); fingerprint identifies it across runs.
-- Inputs: stored_alert_findings (alert_findings as the writer stored them), alert_clock, alert_rules, indicators.
-- The findings are read as stored with the data, but for a stale series' measure, worked out again from its
-- covered_to to alert_clock.today (stale_months), so staleness follows the calendar without a write. The rules,
-- their thresholds and the wording apply when read: a changed rule takes effect at the next query.
-- A rule row applies to a finding of its check_name, filtered by the indicator's frequency and pillar
-- (group or aggregate). Only findings about a place listed in alert_places (or within one: BE covers BE-BRU and
-- BEANR) raise alerts; with none listed, every place does: alert_findings checks only those (followed_geos).
-- Its movement turns the finding's signed measure into "how far it went the way the rule watches": bad = the catalog direction (up_is_bad: up, down_is_bad: down, neutral: either way).
-- Each rule has severity tiers; the highest tier whose threshold is met is the alert (float noise below
-- 1e-9 is not allowed to decide a threshold).
-- fingerprint = first 32 hex digits of sha256('rule|indicator_id|geo|period'), period being the year (for a
-- source conflict, or an unknown year, 'start/end' of the period): stable across runs, so a changed value or
-- severity is the same alert, changed.
-- message: what moved, from what to what, where it came from, and the rule's next step; a value the publisher
-- marks provisional is said to be so. `provisional` is true when the alert cites such a value.
CREATE OR REPLACE VIEW all_trend_alerts AS
WITH findings AS (
    SELECT f.* REPLACE (
        CASE WHEN f.check_name = 'stale_series' THEN stale_months(f.covered_to, k.today) ELSE f.measure END AS measure
    )
    FROM stored_alert_findings AS f
    CROSS JOIN alert_clock AS k
),
matched AS (
    SELECT
        f.*,
        i.name AS indicator_name,
        i.unit,
        i.direction,
        i.frequency,
        r.rule,
        r.severity,
        r.threshold,
        r.description,
        r.action,
        CASE r.severity WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END AS severity_rank,
        CASE
            WHEN r.movement = 'up' THEN f.measure
            WHEN r.movement = 'down' THEN -f.measure
            WHEN r.movement = 'either' OR i.direction = 'neutral' THEN ABS(f.measure)
            WHEN i.direction = 'down_is_bad' THEN -f.measure
            ELSE f.measure
        END AS moved
    FROM findings AS f
    JOIN indicators AS i USING (indicator_id)
    JOIN alert_rules AS r
      ON r.check_name = f.check_name
     AND (r.frequency IS NULL OR r.frequency = i.frequency)
     AND (r.pillar IS NULL OR r.pillar = i.indicator_group OR r.pillar = i.aggregate_of)
     AND (r.except_pillar IS NULL
          OR NOT (r.except_pillar IS NOT DISTINCT FROM i.indicator_group
                  OR r.except_pillar IS NOT DISTINCT FROM i.aggregate_of))
     AND (r.min_history IS NULL OR f.history >= r.min_history)
),
tiered AS (
    SELECT
        *,
        -- Sources conflict about one exact period (a year to date and the full year are two); the other checks
        -- pick one value per series and year.
        CASE WHEN check_name = 'source_conflict' OR year IS NULL
             THEN strftime(period_start, '%Y-%m-%d') || '/' || strftime(period_end, '%Y-%m-%d')
             ELSE CAST(year AS VARCHAR) END AS period
    FROM matched
    WHERE moved >= threshold - 1e-9
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY rule, indicator_id, geo, period
        ORDER BY severity_rank DESC, threshold DESC, period_end DESC
    ) = 1
),
worded AS (
    SELECT
        t.*,
        t.indicator_name || ' (' || t.geo || ')' AS subject,
        CASE WHEN t.period_start = make_date(t.year, 1, 1) AND t.period_end = make_date(t.year, 12, 31)
             THEN CAST(t.year AS VARCHAR)
             ELSE strftime(t.period_start, '%Y-%m-%d') || '/' || strftime(t.period_end, '%Y-%m-%d') END AS period_text,
        CASE WHEN t.unit = 'count' THEN '' ELSE ' ' || t.unit END AS unit_text,
        CASE WHEN t.qualifier = 'approx' THEN 'about ' WHEN t.qualifier = 'lower_bound' THEN 'at least '
             WHEN t.qualifier = 'upper_bound' THEN 'at most ' ELSE '' END AS value_prefix,
        CASE WHEN t.value = ROUND(t.value) THEN printf('%d', CAST(t.value AS BIGINT))
             ELSE printf('%.2f', t.value) END AS value_text,
        CASE WHEN t.prev_value = ROUND(t.prev_value) THEN printf('%d', CAST(t.prev_value AS BIGINT))
             ELSE printf('%.2f', t.prev_value) END AS prev_text,
        CASE WHEN ABS(t.change) = ROUND(ABS(t.change)) THEN printf('%d', CAST(ABS(t.change) AS BIGINT))
             ELSE printf('%.2f', ABS(t.change)) END AS change_text,
        CASE WHEN t.annualized_value = ROUND(t.annualized_value) THEN printf('%d', CAST(t.annualized_value AS BIGINT))
             ELSE printf('%.1f', t.annualized_value) END AS pace_text,
        COALESCE(' The ' || t.provisional || ' provisional (publisher flag p).', '')
        || ' Sources: ' || array_to_string(t.source_ids, ', ') || '. Next: ' || t.action AS ending
    FROM tiered AS t
)
SELECT
    left(sha256(rule || '|' || indicator_id || '|' || geo || '|' || period), 32) AS fingerprint,
    rule,
    severity,
    indicator_id,
    geo,
    year,
    value,
    prev_value,
    change,
    CASE check_name
        WHEN 'yoy_change' THEN
            subject || ': '
            || CASE WHEN basis = 'annualized'
                    THEN value_prefix || value_text || unit_text || ' in ' || year || ' so far (as of '
                         || strftime(COALESCE(as_of, period_end), '%Y-%m-%d') || '), an annualized pace of '
                         || pace_text || unit_text
                    ELSE value_prefix || value_text || unit_text || ' in ' || year END
            || ' against ' || prev_text || unit_text || ' in ' || prev_year || ': '
            || CASE WHEN change >= 0 THEN 'up ' ELSE 'down ' END || change_text || unit_text
            || ' (' || printf('%+.1f', pct_change) || ' %).' || ending
        WHEN 'edition_change' THEN
            subject || ': index score ' || CASE WHEN change >= 0 THEN 'rose ' ELSE 'fell ' END
            || printf('%.2f', ABS(change)) || ' points, from ' || printf('%.2f', prev_value) || ' in the '
            || prev_year || ' edition to ' || printf('%.2f', value) || ' in the ' || year || ' edition ('
            || detail || ' a year).' || ending
        WHEN 'record' THEN
            subject || ': ' || value_prefix || value_text || unit_text || ' in ' || year
            || CASE WHEN is_partial THEN ' so far (as of ' || strftime(COALESCE(as_of, period_end), '%Y-%m-%d') || ')'
                    ELSE '' END
            || ' is a record '
            || detail || ', ' || CASE detail WHEN 'high' THEN 'above' ELSE 'below' END || ' all ' || history
            || ' earlier values (the previous ' || detail || ' was ' || prev_text || unit_text || ' in '
            || prev_year || ').' || ending
        WHEN 'source_conflict' THEN
            subject || ', ' || period_text || ': sources disagree: ' || detail || '; the series uses '
            || COALESCE(value_text || unit_text, 'none of them') || '.' || ending
        WHEN 'stale_series' THEN
            subject || ': the latest value is ' || value_prefix || value_text || unit_text || ' for ' || year
            || ' (data to ' || strftime(covered_to, '%Y-%m-%d') || '); this ' || frequency
            || ' series should have had a newer value by '
            || strftime(CAST(covered_to + to_months(CAST(ROUND(threshold) AS INTEGER)) AS DATE), '%Y-%m-%d')
            || '.' || ending
        WHEN 'outlier' THEN
            subject || ': ' || value_prefix || value_text || unit_text || ' in ' || period_text
            || ' lies far from the series'' usual spread: the median of its ' || history || ' earlier values is '
            || prev_text || unit_text || ' (modified z-score ' || detail || ').' || ending
        WHEN 'revision' THEN
            subject || ', ' || period_text || ': ' || source_ids[1] || ' revised its value from ' || prev_text
            || unit_text || ' (' || split_part(detail, '|', 1) || ') to ' || value_prefix || value_text || unit_text
            || ' (' || split_part(detail, '|', 2) || ')'
            || COALESCE(', ' || printf('%+.1f', pct_change) || ' %', '') || '.' || ending
    END AS message,
    severity_rank,
    check_name,
    indicator_name,
    unit,
    period,
    prev_year,
    pct_change,
    basis,
    annualized_value,
    threshold,
    source_ids,
    description,
    provisional IS NOT NULL AS provisional
FROM worded;
