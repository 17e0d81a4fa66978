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
-- geos and indicators only (each a list; NULL: all), e.g. for the series the alert checks read.
-- yoy_changes_among(series_ids, geos, indicator_ids, places, latest) is the same for the series of those ids too (a
-- list of series_keys' ids, found first, see stored_versions_in; NULL: all) and within those places (see
-- series_among), for the writer's stored findings; with latest = true, only each series' latest year whose change can
-- be judged (the yoy_change check's row: a year to date of unknown as-of after a year, partial_without_as_of, is
-- passed over for the year before it, however many follow). yoy_changes_in is it with every place and every year.
-- yoy_paced_among(series_ids, geos, indicator_ids, places) is what it compares: every annual value of those series,
-- with its pace (basis, annualized_value).
--
-- Shape, so that a filter on the view (`WHERE geo = 'BE'`, `WHERE indicator_id = ...`, as an analyst writes it) reaches
-- the table scans and reads the series asked for, not every one: DuckDB 1.5.5 computes a relation named in WITH and
-- read twice once and whole (always when it holds an aggregate or a window; MATERIALIZED is dropped when a view is
-- stored), and pushes a filter into it only when every read of it is filtered, never into one read from inside another
-- such relation. So `annual`, one row per series and year, is the only relation the final query reads more than once
-- (the year before by a join on year - 1, the series' first and latest years by a GROUP BY); every step before it is
-- read once but `latest_paced`, which holds rows only with latest (see below). When it read based, looked_at and annual
-- in turn, each computed whole, one place took 2.7-2.9 s and one indicator 2.8-4.0 s on a 10M-row warehouse (load 4),
-- now 0.5 s and 0.08 s, the same rows. Every join, aggregate and window is within one series (indicator_id and geo;
-- with latest, its series_id, which stands for them: an integer is cheaper to hash and compare than two texts), so a
-- filter on them leaves each series' rows as they are.
-- A year's value is the first of its periods by a window within the series and year (arg_min over the row as a
-- struct took a sixth more CPU and a third more memory for the whole view). With latest, each
-- series' last two years are kept before (every year of a series with a value of unknown pace, which may be passed
-- over), by a GROUP BY per series joined to latest_paced, the series' annual values computed once and read twice, and
-- empty without latest (so a filter on the view still reaches the scans, and DuckDB computes nothing for it there):
-- the findings rank only those years. Windows over every followed row did the same with a quarter more CPU (every
-- series of a 12M-version warehouse: 3.0-3.2 s, now 2.3-2.5 s, and a tenth more memory); the macro read twice
-- instead of latest_paced read the versions twice (4.5 s).
CREATE OR REPLACE MACRO yoy_paced_among(series_ids, geos, indicator_ids, places) AS TABLE
SELECT
    p.*,
    CASE
        WHEN NOT p.is_partial THEN 'full_year'
        WHEN p.pace_date >= make_date(p.year, 1, 1) THEN 'annualized'
    END AS basis,
    CASE
        WHEN NOT p.is_partial THEN p.value
        WHEN p.pace_date >= make_date(p.year, 1, 1) THEN
            p.value * date_diff('day', make_date(p.year, 1, 1), make_date(p.year + 1, 1, 1))
            / (date_diff('day', make_date(p.year, 1, 1), LEAST(p.pace_date, make_date(p.year, 12, 31))) + 1)
    END AS annualized_value
FROM (
    SELECT
        a.*,
        CASE WHEN a.is_partial THEN
            COALESCE(a.as_of, CASE WHEN a.period_end < make_date(a.year, 12, 31) THEN a.period_end END)
        END AS pace_date
    FROM annual_series_in(series_ids) AS a
    WHERE series_among(a.geo, a.indicator_id, geos, indicator_ids, places)
) AS p;

CREATE OR REPLACE MACRO yoy_changes_among(series_ids, geos, indicator_ids, places, latest) AS TABLE
WITH latest_paced AS (
    -- With latest only: every annual value of the series, computed once for the GROUP BY and the join in annual, the
    -- series by its id alone (its text key is joined to the two years kept: two texts held for every value were a
    -- third of the memory it takes).
    SELECT * EXCLUDE (indicator_id, geo) FROM yoy_paced_among(series_ids, geos, indicator_ids, places) WHERE latest
),
annual AS (
    -- One row per series and year: the year's value (the full year, else the latest as-of, unknown last; then the
    -- latest period end, the earliest start), with its pace. The only relation read more than once below. Without
    -- latest, the years are told apart by the text key, so that a filter on the view's geo or indicator passes the
    -- window to the scans; with latest (no filter but the macro's arguments), by the series' id.
    SELECT *, NULL AS first_year
    FROM yoy_paced_among(series_ids, geos, indicator_ids, places)
    WHERE NOT latest
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY indicator_id, geo, year ORDER BY is_partial, as_of DESC NULLS LAST, period_end DESC, period_start
    ) = 1
    UNION ALL BY NAME
    SELECT y.*, k.indicator_id, k.geo
    FROM (
        SELECT y.*, s.first_year
        FROM latest_paced AS y
        JOIN (
            SELECT series_id, MIN(year) AS first_year, MAX(year) AS last_year, bool_or(basis IS NULL) AS unknown_pace
            FROM latest_paced
            GROUP BY series_id
        ) AS s ON s.series_id = y.series_id
        WHERE s.unknown_pace OR y.year >= s.last_year - 1
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY y.series_id, y.year
            ORDER BY y.is_partial, y.as_of DESC NULLS LAST, y.period_end DESC, y.period_start
        ) = 1
    ) AS y
    JOIN series_keys_in(series_ids) AS k USING (series_id)
),
judged AS (
    -- The previous year is year - 1 only (else a gap).
    SELECT
        a.* EXCLUDE (first_year),
        p.value AS prev_value,
        p.source_id AS prev_source_id,
        p.flags AS prev_flags,
        CASE
            WHEN p.year IS NULL AND s.first_year = a.year THEN 'first_year'
            WHEN p.year IS NULL THEN 'previous_year_missing'
            WHEN a.basis IS NULL THEN 'partial_without_as_of'
            WHEN a.flags LIKE '%b%' THEN 'break_in_series'
            WHEN a.qualifier NOT IN ('exact', 'approx') THEN 'bound'
            WHEN p.is_partial THEN 'previous_year_partial'
            WHEN p.qualifier NOT IN ('exact', 'approx') THEN 'previous_bound'
        END AS not_comparable
    FROM annual AS a
    JOIN (
        -- Per series: its first year, and its latest year whose change can be judged, the latest year but one of
        -- unknown pace that follows a year (partial_without_as_of), found only with latest (a column no query
        -- without it reads, which DuckDB leaves out).
        SELECT
            indicator_id, geo, first_year,
            GREATEST(last_paced, list_max(list_filter(paceless, y -> NOT list_contains(years, y - 1)))) AS latest_year
        FROM (
            SELECT
                indicator_id, geo, MIN(COALESCE(first_year, year)) AS first_year, list(year) AS years,
                MAX(year) FILTER (WHERE basis IS NOT NULL) AS last_paced,
                list(year) FILTER (WHERE basis IS NULL) AS paceless
            FROM annual
            GROUP BY indicator_id, geo
        )
    ) AS s USING (indicator_id, geo)
    LEFT JOIN annual AS p ON p.indicator_id = a.indicator_id AND p.geo = a.geo AND p.year = a.year - 1
    WHERE NOT latest OR a.year = s.latest_year
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

-- yoy_changes_in looks the asked series' ids up in series_keys first and passes them on, so that the versions kept are
-- theirs alone: the geos and indicators as a condition on each row of yoy_changes_among read and paired every version
-- of the warehouse (9 s for one place of a 10M-row warehouse, 0.4 s by ids). Both NULL: every series, no list.
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
