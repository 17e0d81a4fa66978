-- series: the one value analysts should use per (indicator, geo, period), after source precedence.
-- Grain: one row per (indicator_id, geo, period_start, period_end) with a known period.
-- Inputs: history_in (the current versions, as observations_in), sources (precedence, published_on),
-- multi_source_periods.
-- Policy, in order: highest source precedence; a whole period over a partial count of it (they share a
-- period only when the partial count's as-of date is unknown); a value stated by a source (parsed, curated)
-- over one derived or computed from it; the newest publication; source_id for a stable tie-break.
-- Publication dates rank as far as they are stated: a date known to the month or year counts as the first
-- day of it (published_on), and an unknown date ranks oldest, so a source we cannot date never overrides
-- one we can.
-- Values whose period the source does not state stay in `observations` only.
-- Only the periods in multi_source_periods (stated by two or more sources) are ranked; every other current
-- value is its period's only one and passes as it is (n_sources = 1). Ranking all ten million rows of a large
-- warehouse at every query took seconds; the periods several sources state are usually few.
-- series_in(series_ids): the same for the series of those ids only (a list; NULL: all; see history_in), with each
-- value's series_id (see observations_in), which the alert checks join, group and partition on.
-- Its evidence is as stored (stored_evidence, evidence_row), printed by the view (cited_evidence): DuckDB computes
-- every column of a macro that holds a relation read twice (ranked) whether a query reads it or not, and printing the
-- evidence of each current value took half the CPU of reading the series of a 3M-row table for the alert checks and
-- yoy_changes, which read none.
-- The single-source values are those whose period is not among the ranked ones: the same rows as those outside
-- multi_source_periods (a value is ranked exactly when its period is there), but named through `ranked`, which
-- DuckDB then computes once for both parts. Written with a second anti join on multi_source_periods, DuckDB 1.5.5
-- planned a query that filters the view (`SELECT * FROM series WHERE indicator_id = ...` on a 10M-row warehouse)
-- so that it waited forever with every thread idle.
CREATE OR REPLACE MACRO series_in(series_ids) AS TABLE
WITH ranked AS (
    SELECT
        o.*,
        -- Rows per period are sources: the current versions hold one row per (key, source).
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
    FROM history_in(series_ids) AS o
    SEMI JOIN multi_source_periods USING (indicator_id, geo, period_start, period_end)
    JOIN sources AS s USING (source_id)
    WHERE o.valid_to IS NULL
)
SELECT
    indicator_id, geo, year, period_start, period_end, value, unit, qualifier, is_partial, as_of,
    source_id, method, evidence AS stored_evidence, evidence_row, flags, CAST(1 AS BIGINT) AS n_sources, series_id
FROM history_in(series_ids)
ANTI JOIN ranked USING (indicator_id, geo, period_start, period_end)
WHERE valid_to IS NULL AND period_start IS NOT NULL
UNION ALL
SELECT
    indicator_id, geo, year, period_start, period_end, value, unit, qualifier, is_partial, as_of,
    source_id, method, evidence AS stored_evidence, evidence_row, flags, n_sources, series_id
FROM ranked
WHERE pick = 1;

CREATE OR REPLACE VIEW series AS
SELECT
    indicator_id, geo, year, period_start, period_end, value, unit, qualifier, is_partial, as_of,
    source_id, method, cited_evidence(stored_evidence, evidence_row) AS evidence, flags, n_sources
FROM series_in(NULL);
