-- edition_changes: every index (biennial) series' value against the previous edition present.
-- Grain: one row per (indicator_id, geo, year) of an indicator whose catalog frequency is biennial;
-- year is the edition.
-- Inputs: series_in, indicators.
-- The previous edition is the latest earlier one the warehouse holds, so a missing edition widens the
-- gap instead of hiding the change: change_per_year = change / (year - prev_year) keeps editions two and
-- four years apart comparable. The first edition has no previous one (prev_year, change NULL).
-- change = value - prev_value in score points, rounded to 9 decimals so that 6.5 - 6.0 is exactly 0.5
-- (the index prints two decimals; float noise must not decide a threshold).
-- Partial values are not editions and are left out.
-- A break in series (the publisher's flag `b` on an edition's value: its method or definition changed from that
-- edition on) makes that edition not comparable with the one before: change and change_per_year are NULL,
-- comparable = false, and no alert reads a move across it. flags and prev_flags are the two values' flags.
--
-- edition_changes is edition_changes_in(NULL, NULL): every index series, every country (the whole-world workbook
-- included). edition_changes_in(geos, indicator_ids) gives the same rows for those geos and indicators only (each a
-- list; NULL: all), which the alert checks read, so as not to pair every edition of every country: the windows
-- partition by indicator_id and geo, so the editions are filtered before them.
-- edition_changes_among(series_ids, geos, indicator_ids, places) is the same for the series of those ids too (a list
-- of series_keys' ids, found first, see stored_versions_in; NULL: all) and within those places (see series_among),
-- for the writer's stored findings; edition_changes_in is it with every id and place.
CREATE OR REPLACE MACRO edition_changes_among(series_ids, geos, indicator_ids, places) AS TABLE
WITH biennial AS (
    SELECT s.*
    FROM series_in(series_ids) AS s
    JOIN indicators AS i USING (indicator_id)
    WHERE i.frequency = 'biennial' AND s.year IS NOT NULL AND NOT s.is_partial
      AND series_among(s.geo, s.indicator_id, geos, indicator_ids, places)
),
editions AS (
    SELECT *
    FROM biennial
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY indicator_id, geo, year ORDER BY period_end DESC, period_start
    ) = 1
),
paired AS (
    SELECT
        e.*,
        LAG(e.year) OVER w AS prev_year,
        LAG(e.value) OVER w AS prev_value,
        LAG(e.source_id) OVER w AS prev_source_id,
        LAG(e.flags) OVER w AS prev_flags,
        COALESCE(contains(e.flags, 'b'), false) AS breaks
    FROM editions AS e
    WINDOW w AS (PARTITION BY e.indicator_id, e.geo ORDER BY e.year)
)
SELECT
    indicator_id,
    geo,
    year,
    prev_year,
    value,
    prev_value,
    CASE WHEN NOT breaks THEN ROUND(value - prev_value, 9) END AS change,
    CASE WHEN NOT breaks THEN ROUND((value - prev_value) / (year - prev_year), 9) END AS change_per_year,
    year - prev_year AS years_between,
    unit,
    method,
    source_id,
    prev_source_id,
    period_start,
    period_end,
    prev_year IS NOT NULL AND NOT breaks AS comparable,
    flags,
    prev_flags
FROM paired;

CREATE OR REPLACE MACRO edition_changes_in(geos, indicator_ids) AS TABLE
SELECT * FROM edition_changes_among(NULL, geos, indicator_ids, NULL);

CREATE OR REPLACE VIEW edition_changes AS
SELECT * FROM edition_changes_in(NULL, NULL);
