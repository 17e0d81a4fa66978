-- latest_values: the most recent value per indicator and place, with the source it came from.
-- Grain: one row per (indicator_id, geo) that has a series value.
-- Inputs: series, sources, indicators.
-- The latest period is the one that ends last; a partial period (year to date) that ends later than the
-- last full year is the latest, marked by is_partial and as_of. On the same end date a full period wins.
CREATE OR REPLACE VIEW latest_values AS
WITH ranked AS (
    SELECT
        s.*,
        ROW_NUMBER() OVER (
            PARTITION BY s.indicator_id, s.geo
            ORDER BY s.period_end DESC, s.is_partial, s.period_start DESC
        ) AS pick
    FROM series AS s
)
SELECT
    r.indicator_id, i.name AS indicator_name, r.geo, r.year, r.period_start, r.period_end, r.value, r.unit,
    r.qualifier, r.is_partial, r.as_of, r.source_id, src.title AS source_title, src.publisher AS source_publisher,
    src.published_on AS source_published_on,
    src.published_precision AS source_published_precision, src.url AS source_url, r.method, r.evidence, r.n_sources
FROM ranked AS r
JOIN sources AS src USING (source_id)
LEFT JOIN indicators AS i USING (indicator_id)
WHERE r.pick = 1;
