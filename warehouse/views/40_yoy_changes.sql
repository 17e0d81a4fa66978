-- yoy_changes: every annual series' value against exactly the previous year.
-- Grain: one row per (indicator_id, geo, year) of an indicator whose catalog frequency is annual
-- (yoy_changes_scoped: per scope, indicator_id, geo, year).
-- Inputs: annual_series (series of annual indicators); indicators and followed_geos for scope 'latest'.
-- Rules:
--   * The previous value is the one for year - 1, nothing else: a missing year is a gap (comparable = false,
--     no change), never a silent jump over it to an older year.
--   * A partial year (is_partial: year to date) is never compared raw with a full year. It is compared at
--     its annualized pace: annualized_value = value * days in the calendar year / days from 1 January to
--     as_of (both days counted), basis = 'annualized'. A full year has basis = 'full_year' and
--     annualized_value = value. A partial value whose as_of is unknown is never compared (basis NULL);
--     when as_of is unknown but the period ends before 31 December, the period end is the as-of date.
--   * Only points are compared (qualifier exact or approx): "over 60" is not a number to subtract.
--   * The previous year must be a full year.
--   * A break in series (the publisher's flag `b` on a year's value: its method or definition changed from
--     that year on) makes that year not comparable with the year before (not_comparable 'break_in_series').
--   change = compared value - prev_value, in the indicator's unit, where the compared value is
--   annualized_value (equal to value for a full year); pct_change = 100 * change / prev_value, in percent
--   (NULL when prev_value is 0). not_comparable says why a row has no change.
-- Several periods in one year (a year-to-date figure and the full year): the full year wins, else the
-- latest as-of.
--
-- yoy_changes_scoped computes these rows for two scopes at once, and yoy_changes is its scope 'all':
--   all     every year of every annual series.
--   latest  the years of each series from its last full year on (every year when it has no full year), each
--           compared with the year before as in 'all', for the series the alert checks read: indicators of the
--           catalog in the places alerts follow (followed_geos). The alert checks take each series' latest year
--           that is not a year to date of unknown pace, and that is never older than the last full year. For
--           those years its rows are the rows of scope 'all', not_comparable included.
-- The scope (as `latest`, a boolean) is in every window's PARTITION BY, so a filter on it (or on indicator_id)
-- reaches the scan and the other scope is not computed: the alert checks read a few rows per series instead of
-- every year of it, and yoy_changes costs about what it did before the scopes.
CREATE OR REPLACE VIEW yoy_changes_scoped AS
WITH scoped AS (
    -- annual_series is a view, not a CTE: read through one CTE by both scopes, a filter on indicator_id stopped
    -- short of the table scan (one indicator's changes then read every row of the warehouse).
    SELECT false AS latest, a.*, CAST(NULL AS INTEGER) AS first_year, CAST(NULL AS INTEGER) AS kept_from
    FROM annual_series AS a
    UNION ALL
    SELECT true AS latest, a.*, b.first_year, b.last_full_year AS kept_from
    FROM annual_series AS a
    JOIN (
        SELECT a.indicator_id, a.geo, MIN(a.year) AS first_year,
               MAX(a.year) FILTER (WHERE NOT a.is_partial) AS last_full_year
        FROM annual_series AS a
        SEMI JOIN indicators AS i ON i.indicator_id = a.indicator_id
        SEMI JOIN followed_geos AS g ON g.geo = a.geo
        GROUP BY a.indicator_id, a.geo
    ) AS b USING (indicator_id, geo)
    WHERE b.last_full_year IS NULL OR a.year >= b.last_full_year - 1
),
annual AS (
    SELECT *
    FROM scoped
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY latest, indicator_id, geo, year
        ORDER BY is_partial, as_of DESC NULLS LAST, period_end DESC, period_start
    ) = 1
),
paced AS (
    SELECT
        a.*,
        date_diff('day', make_date(a.year, 1, 1), make_date(a.year + 1, 1, 1)) AS days_in_year,
        CASE WHEN a.is_partial THEN
            COALESCE(a.as_of, CASE WHEN a.period_end < make_date(a.year, 12, 31) THEN a.period_end END)
        END AS pace_date
    FROM annual AS a
),
based AS (
    SELECT
        p.*,
        CASE
            WHEN NOT p.is_partial THEN 'full_year'
            WHEN p.pace_date >= make_date(p.year, 1, 1) THEN 'annualized'
        END AS basis,
        CASE
            WHEN NOT p.is_partial THEN p.value
            WHEN p.pace_date >= make_date(p.year, 1, 1) THEN
                p.value * p.days_in_year
                / (date_diff('day', make_date(p.year, 1, 1), LEAST(p.pace_date, make_date(p.year, 12, 31))) + 1)
        END AS annualized_value
    FROM paced AS p
),
paired AS (
    -- The previous row of the series is the previous year only when it is year - 1 (else a gap). One pass over
    -- the series instead of a join of the series with itself, and a filter on indicator_id reaches the scan.
    SELECT
        b.*,
        CASE WHEN LAG(b.year) OVER w = b.year - 1 THEN LAG(b.value) OVER w END AS prev_value,
        CASE WHEN LAG(b.year) OVER w = b.year - 1 THEN LAG(b.qualifier) OVER w END AS prev_qualifier,
        CASE WHEN LAG(b.year) OVER w = b.year - 1 THEN LAG(b.is_partial) OVER w END AS prev_is_partial,
        CASE WHEN LAG(b.year) OVER w = b.year - 1 THEN LAG(b.source_id) OVER w END AS prev_source_id,
        CASE WHEN LAG(b.year) OVER w = b.year - 1 THEN LAG(b.flags) OVER w END AS prev_flags,
        COALESCE(LAG(b.year) OVER w = b.year - 1, false) AS has_prev,
        -- Scope 'latest' holds the last years of a series only: it carries the series' first year with it.
        COALESCE(b.first_year, MIN(b.year) OVER (PARTITION BY b.latest, b.indicator_id, b.geo)) < b.year
            AS has_earlier
    FROM based AS b
    WINDOW w AS (PARTITION BY b.latest, b.indicator_id, b.geo ORDER BY b.year)
),
judged AS (
    SELECT
        p.*,
        CASE
            WHEN NOT p.has_prev AND NOT p.has_earlier THEN 'first_year'
            WHEN NOT p.has_prev THEN 'previous_year_missing'
            WHEN p.basis IS NULL THEN 'partial_without_as_of'
            WHEN p.flags LIKE '%b%' THEN 'break_in_series'
            WHEN p.qualifier NOT IN ('exact', 'approx') THEN 'bound'
            WHEN p.prev_is_partial THEN 'previous_year_partial'
            WHEN p.prev_qualifier NOT IN ('exact', 'approx') THEN 'previous_bound'
        END AS not_comparable
    FROM paired AS p
)
SELECT
    CASE WHEN latest THEN 'latest' ELSE 'all' END AS scope,
    indicator_id,
    geo,
    year,
    value,
    unit,
    qualifier,
    is_partial,
    as_of,
    basis,
    annualized_value,
    year - 1 AS prev_year,
    prev_value,
    CASE WHEN not_comparable IS NULL THEN annualized_value - prev_value END AS change,
    CASE WHEN not_comparable IS NULL AND prev_value <> 0
         THEN 100 * (annualized_value - prev_value) / prev_value END AS pct_change,
    not_comparable IS NULL AS comparable,
    not_comparable,
    source_id,
    prev_source_id,
    period_start,
    period_end,
    flags,
    prev_flags
FROM judged
WHERE kept_from IS NULL OR year >= kept_from;

CREATE OR REPLACE VIEW yoy_changes AS
SELECT * EXCLUDE (scope) FROM yoy_changes_scoped WHERE scope = 'all';
