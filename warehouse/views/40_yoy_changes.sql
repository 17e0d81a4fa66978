-- yoy_changes: every annual series' value against exactly the previous year.
-- Grain: one row per (indicator_id, geo, year) of an indicator whose catalog frequency is annual.
-- Inputs: annual_series_in (series of annual indicators).
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
-- geos and indicators only (each a list; NULL: all), e.g. for the series the alert checks read. Every join and
-- window is within one series (indicator_id and geo), so filtering the annual values before them leaves each series'
-- rows as they are.
-- yoy_changes_among(series_ids, geos, indicator_ids, places, latest) is the same for the series of those ids too (a
-- list of series_keys' ids, found first, see stored_versions_in; NULL: all) and within those places (see
-- series_among), for the writer's stored findings; with latest = true, only each series' latest year whose change can be judged (the
-- yoy_change check's row: a year to date of unknown as-of after a year, partial_without_as_of, is passed over for the
-- year before it, however many follow). yoy_changes_in is it with every place and every year.
-- Only what is asked for is paired: with latest = true, each series' last two years, or every year of a series that
-- has a value of unknown pace (it may be passed over). The year before is joined on year - 1, and a year stated once
-- passes as it is (only the rare years stated twice are ranked): windows ordering every row of every series took
-- most of the alert findings' time on large tables.
CREATE OR REPLACE MACRO yoy_changes_among(series_ids, geos, indicator_ids, places, latest) AS TABLE
WITH paced AS (
    SELECT
        a.*,
        date_diff('day', make_date(a.year, 1, 1), make_date(a.year + 1, 1, 1)) AS days_in_year,
        CASE WHEN a.is_partial THEN
            COALESCE(a.as_of, CASE WHEN a.period_end < make_date(a.year, 12, 31) THEN a.period_end END)
        END AS pace_date
    FROM annual_series_in(series_ids) AS a
    WHERE series_among(a.geo, a.indicator_id, geos, indicator_ids, places)
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
spans AS (
    SELECT indicator_id, geo, MIN(year) AS first_year, MAX(year) AS last_year, bool_or(basis IS NULL) AS unknown_pace
    FROM based
    GROUP BY indicator_id, geo
),
looked_at AS (
    SELECT b.*, s.first_year
    FROM based AS b
    JOIN spans AS s USING (indicator_id, geo)
    WHERE NOT latest OR s.unknown_pace OR b.year >= s.last_year - 1
),
crowded AS (
    SELECT indicator_id, geo, year FROM looked_at GROUP BY indicator_id, geo, year HAVING COUNT(*) > 1
),
annual AS (
    SELECT * FROM looked_at ANTI JOIN crowded USING (indicator_id, geo, year)
    UNION ALL BY NAME
    SELECT * FROM (
        SELECT l.*
        FROM looked_at AS l
        SEMI JOIN crowded USING (indicator_id, geo, year)
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY l.indicator_id, l.geo, l.year
            ORDER BY l.is_partial, l.as_of DESC NULLS LAST, l.period_end DESC, l.period_start
        ) = 1
    )
),
paired AS (
    -- The previous year is year - 1 only (else a gap).
    SELECT
        a.*,
        p.value AS prev_value,
        p.qualifier AS prev_qualifier,
        p.is_partial AS prev_is_partial,
        p.source_id AS prev_source_id,
        p.flags AS prev_flags,
        p.year IS NOT NULL AS has_prev,
        a.first_year < a.year AS has_earlier
    FROM annual AS a
    LEFT JOIN annual AS p ON p.indicator_id = a.indicator_id AND p.geo = a.geo AND p.year = a.year - 1
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
),
reported AS (
    SELECT * FROM judged WHERE NOT latest
    UNION ALL
    SELECT *
    FROM judged
    SEMI JOIN (
        SELECT indicator_id, geo, MAX(year) AS year
        FROM judged
        WHERE latest AND not_comparable IS DISTINCT FROM 'partial_without_as_of'
        GROUP BY indicator_id, geo
    ) USING (indicator_id, geo, year)
    WHERE latest
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
FROM reported;

-- yoy_changes_in looks the asked series' ids up in series_keys first and passes them on, so that the versions read are
-- theirs alone: the geos and indicators as a condition on each row read every version of the warehouse (2 s for one
-- indicator of a 10M-row warehouse, 0.2 s by ids). Both NULL: every series, no list.
CREATE OR REPLACE MACRO yoy_changes_in(geos, indicator_ids) AS TABLE
SELECT * FROM yoy_changes_among(
    CASE WHEN geos IS NOT NULL OR indicator_ids IS NOT NULL THEN (
        SELECT COALESCE(list(k.series_id), CAST([] AS BIGINT[]))
        FROM series_keys AS k
        WHERE series_among(k.geo, k.indicator_id, geos, indicator_ids, NULL)
    ) END,
    geos, indicator_ids, NULL, false
);

CREATE OR REPLACE VIEW yoy_changes AS
SELECT * FROM yoy_changes_in(NULL, NULL);
