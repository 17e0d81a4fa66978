-- source_conflicts: every (indicator, geo, period) where sources state different values.
-- Grain: one row per (indicator_id, geo, period_start, period_end) stated by 2+ sources that disagree.
-- Inputs: observations, multi_source_periods (only a period two or more sources state can have a conflict).
-- Only stated points (qualifier exact or approx) are compared; a bound ("over 60") does not conflict
-- with a point, and a partial count whose as-of date is unknown is never compared. Values disagree when they
-- differ by more than 0.01 or 0.5 % of the larger, whichever is larger. A curated mapping that moves a value to
-- another geography or indicator ends the conflict.
CREATE OR REPLACE VIEW source_conflicts AS
WITH points AS (
    SELECT indicator_id, geo, period_start, period_end, year, value, source_id, qualifier
    FROM observations
    SEMI JOIN multi_source_periods USING (indicator_id, geo, period_start, period_end)
    WHERE qualifier IN ('exact', 'approx')
      AND NOT (is_partial AND as_of IS NULL)
),
-- Periods stated by more than one source whose values spread beyond the tolerance: found with plain counts
-- first, so the lists below are built for those few periods only, not for every period (ten million rows).
disputed AS (
    SELECT indicator_id, geo, period_start, period_end
    FROM points
    GROUP BY indicator_id, geo, period_start, period_end
    HAVING COUNT(*) > 1
       AND MAX(value) - MIN(value) > GREATEST(0.01, 0.005 * GREATEST(ABS(MIN(value)), ABS(MAX(value))))
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
        MAX(value) AS max_value
    FROM points
    SEMI JOIN disputed USING (indicator_id, geo, period_start, period_end)
    GROUP BY indicator_id, geo, period_start, period_end
)
SELECT
    indicator_id, geo, year, period_start, period_end, "values", source_ids, qualifiers, n_sources,
    max_value - min_value AS spread
FROM grouped
WHERE n_sources > 1
  AND max_value - min_value > GREATEST(0.01, 0.005 * GREATEST(ABS(min_value), ABS(max_value)));
