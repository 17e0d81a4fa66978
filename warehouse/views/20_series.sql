-- series: the one value analysts should use per (indicator, geo, period), after source precedence.
-- Grain: one row per (indicator_id, geo, period_start, period_end) with a known period.
-- Inputs: observations, sources (precedence, published_on).
-- Policy, in order: highest source precedence; a whole period over a partial count of it (they share a
-- period only when the partial count's as-of date is unknown); a value stated by a source (parsed, curated)
-- over one derived or computed from it; the newest publication; source_id for a stable tie-break.
-- Publication dates rank as far as they are stated: a date known to the month or year counts as the first
-- day of it (published_on), and an unknown date ranks oldest, so a source we cannot date never overrides
-- one we can.
-- Values whose period the source does not state stay in `observations` only.
CREATE OR REPLACE VIEW series AS
WITH ranked AS (
    SELECT
        o.*,
        s.precedence,
        s.published_on,
        -- Rows per period are sources: the current versions hold one row per (key, source). A plain count
        -- halves the cost of this view against COUNT(DISTINCT) on ten million rows.
        COUNT(*) OVER (
            PARTITION BY o.indicator_id, o.geo, o.period_start, o.period_end
        ) AS n_sources,
        ROW_NUMBER() OVER (
            PARTITION BY o.indicator_id, o.geo, o.period_start, o.period_end
            ORDER BY
                s.precedence DESC,
                CASE WHEN o.is_partial THEN 1 ELSE 0 END,
                CASE o.method WHEN 'parsed' THEN 0 WHEN 'curated' THEN 0 WHEN 'computed' THEN 1 ELSE 2 END,
                s.published_on DESC NULLS LAST,
                o.source_id
        ) AS pick
    FROM observations AS o
    JOIN sources AS s USING (source_id)
    WHERE o.period_start IS NOT NULL
)
SELECT
    indicator_id, geo, year, period_start, period_end, value, unit, qualifier, is_partial, as_of,
    source_id, method, evidence, n_sources
FROM ranked
WHERE pick = 1;
