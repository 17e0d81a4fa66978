-- source_conflicts: every (indicator, geo, period) where sources state different values.
-- Grain: one row per (indicator_id, geo, period_start, period_end) stated by 2+ sources that disagree.
-- Inputs: observations_in, multi_source_periods (only a period two or more sources state can have a conflict),
-- indicators (unit).
-- Only stated points (qualifier exact or approx) are compared; a bound ("over 60") does not conflict
-- with a point, and a partial count whose as-of date is unknown is never compared. Values disagree when they
-- differ by more than 0.01 or 0.5 % of the larger, whichever is larger; index scores (unit `score`, printed
-- with two decimals) when they differ by more than 0.01 alone: an edition's score stated by the index workbook
-- and the one derived from the next edition's profile (score minus change) agree to the index's round-off
-- (0.01, as GI-TOC notes), and beyond it one of them is wrong. The spread is rounded to 9 decimals first, so
-- float noise (4.44 - 4.43 = 0.0100000000000007) decides nothing. A curated mapping that moves a value to
-- another geography or indicator ends the conflict.
-- source_conflicts_in(series_ids): the same for the series of those ids only (a list; NULL: all; see history_in).
CREATE OR REPLACE MACRO source_conflicts_in(series_ids) AS TABLE
WITH points AS (
    SELECT o.indicator_id, o.geo, o.period_start, o.period_end, o.year, o.value, o.source_id, o.qualifier,
        COALESCE(i.unit = 'score', FALSE) AS is_score
    -- Only the series of those periods are read, by their ids (see stored_versions_in): the values of every other
    -- series, joined to their text keys first, made a hash table of every current value when nothing conflicts.
    FROM observations_in((
        SELECT COALESCE(list(k.series_id), CAST([] AS BIGINT[]))
        FROM series_keys AS k
        SEMI JOIN multi_source_periods AS m ON m.indicator_id = k.indicator_id AND m.geo = k.geo
        WHERE series_ids IS NULL OR k.series_id IN (SELECT unnest(series_ids))
    )) AS o
    SEMI JOIN multi_source_periods USING (indicator_id, geo, period_start, period_end)
    LEFT JOIN indicators AS i USING (indicator_id)
    WHERE o.qualifier IN ('exact', 'approx')
      AND NOT (o.is_partial AND o.as_of IS NULL)
),
-- Periods stated by more than one source whose values spread beyond the tolerance: found with plain counts
-- first, so the lists below are built for those few periods only, not for every period (ten million rows).
disputed AS (
    SELECT indicator_id, geo, period_start, period_end
    FROM points
    GROUP BY indicator_id, geo, period_start, period_end
    HAVING COUNT(*) > 1
       AND ROUND(MAX(value) - MIN(value), 9) > CASE WHEN BOOL_AND(is_score) THEN 0.01
           ELSE GREATEST(0.01, 0.005 * GREATEST(ABS(MIN(value)), ABS(MAX(value)))) END
),
grouped AS (
    SELECT
        indicator_id, geo, period_start, period_end,
        MAX(year) AS year,
        LIST(value ORDER BY source_id) AS "values",
        LIST(source_id ORDER BY source_id) AS source_ids,
        LIST(qualifier ORDER BY source_id) AS qualifiers,
        COUNT(DISTINCT source_id) AS n_sources,
        MIN(value) AS min_value,
        MAX(value) AS max_value,
        BOOL_AND(is_score) AS is_score
    FROM points
    SEMI JOIN disputed USING (indicator_id, geo, period_start, period_end)
    GROUP BY indicator_id, geo, period_start, period_end
)
SELECT
    indicator_id, geo, year, period_start, period_end, "values", source_ids, qualifiers, n_sources,
    ROUND(max_value - min_value, 9) AS spread
FROM grouped
WHERE n_sources > 1
  AND ROUND(max_value - min_value, 9) > CASE WHEN is_score THEN 0.01
      ELSE GREATEST(0.01, 0.005 * GREATEST(ABS(min_value), ABS(max_value))) END;

CREATE OR REPLACE VIEW source_conflicts AS
SELECT * FROM source_conflicts_in(NULL);
