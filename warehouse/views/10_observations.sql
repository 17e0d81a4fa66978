-- observations: the current value per (indicator, geo, period, source).
-- Grain: one row per natural key whose latest version is still valid (valid_to IS NULL).
-- Inputs: observation_history.
CREATE OR REPLACE VIEW observations AS
SELECT
    indicator_id, geo, period_start, period_end, year, value, unit, qualifier, is_partial, as_of,
    source_id, method, evidence, note, flags
FROM observation_history
WHERE valid_to IS NULL;
