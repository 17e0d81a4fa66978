-- yoy_changes: every annual series' value against exactly the previous year.
-- Grain: one row per (indicator_id, geo, year) of an indicator whose catalog frequency is annual.
-- Inputs: annual_series (series of annual indicators).
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
-- yoy_changes is yoy_changes_in(NULL, NULL); yoy_changes_in(geos, indicator_ids) gives the same rows for those
-- geos and indicators only (each a list; NULL: all), e.g. for the series the alert checks read. Every window
-- partitions by indicator_id and geo, so filtering the annual values before them leaves each series' rows as they
-- are, and the lists, given as constants, reach the table scan (a filter on the view's output reaches it for
-- indicator_id and geo too, but not a join with a list of geos).
-- yoy_changes_among(geos, indicator_ids, places) is the same within those places too (see series_among), for the
-- writer's stored findings; yoy_changes_in is it with every place.
CREATE OR REPLACE MACRO yoy_changes_among(geos, indicator_ids, places) AS TABLE
WITH annual AS (
    SELECT a.*
    FROM annual_series AS a
    WHERE series_among(a.geo, a.indicator_id, geos, indicator_ids, places)
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY a.indicator_id, a.geo, a.year
        ORDER BY a.is_partial, a.as_of DESC NULLS LAST, a.period_end DESC, a.period_start
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
        MIN(b.year) OVER (PARTITION BY b.indicator_id, b.geo) < b.year AS has_earlier
    FROM based AS b
    WINDOW w AS (PARTITION BY b.indicator_id, b.geo ORDER BY b.year)
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
FROM judged;

CREATE OR REPLACE MACRO yoy_changes_in(geos, indicator_ids) AS TABLE
SELECT * FROM yoy_changes_among(geos, indicator_ids, NULL);

CREATE OR REPLACE VIEW yoy_changes AS
SELECT * FROM yoy_changes_in(NULL, NULL);
