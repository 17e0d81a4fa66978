-- series_freshness: how recent each series is, and from when it is overdue by its catalog frequency.
-- Grain: one row per (indicator_id, geo) that has a series value.
-- Inputs: series, indicators.
-- A series is stale once the date is past stale_after = its latest period_end plus one cadence of the
-- indicator's frequency (monthly 1 month, quarterly 3, annual 1 year, biennial 2 years); irregular
-- indicators are never stale (stale_after is NULL). Compare with today: WHERE stale_after < current_date.
CREATE OR REPLACE VIEW series_freshness AS
WITH latest AS (
    SELECT indicator_id, geo, MAX(period_end) AS latest_period_end, MAX(year) AS latest_year, COUNT(*) AS n_periods
    FROM series
    GROUP BY indicator_id, geo
)
SELECT
    l.indicator_id, l.geo, i.frequency, l.latest_period_end, l.latest_year, l.n_periods,
    CAST(l.latest_period_end + CASE i.frequency
        WHEN 'monthly' THEN INTERVAL 1 MONTH
        WHEN 'quarterly' THEN INTERVAL 3 MONTH
        WHEN 'annual' THEN INTERVAL 1 YEAR
        WHEN 'biennial' THEN INTERVAL 2 YEAR
    END AS DATE) AS stale_after
FROM latest AS l
LEFT JOIN indicators AS i USING (indicator_id);
