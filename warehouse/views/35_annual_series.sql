-- annual_series: the series values of the indicators whose catalog frequency is annual, with a known year.
-- Grain: one row per (indicator_id, geo, period_start, period_end), as in series.
-- Inputs: series, indicators.
-- What yoy_changes and the alert checks compare, read several times by yoy_changes_scoped; a filter on
-- indicator_id reaches the table scan through it.
CREATE OR REPLACE VIEW annual_series AS
SELECT s.indicator_id, s.geo, s.year, s.period_start, s.period_end, s.value, s.unit, s.qualifier, s.is_partial,
       s.as_of, s.source_id
FROM series AS s
JOIN indicators AS i USING (indicator_id)
WHERE i.frequency = 'annual' AND s.year IS NOT NULL;
