-- observations: the current value per (indicator, geo, period, source).
-- Grain: one row per natural key whose latest version is still valid (valid_to IS NULL).
-- Inputs: observation_history. A value read from a row of a large table cites it by reference: `evidence` is
-- then `<file> (sha256 <hex>) row <n>` (`line <n>` for a CSV), and `octracker evidence` prints that row.
CREATE OR REPLACE VIEW observations AS
SELECT
    indicator_id, geo, period_start, period_end, year, value, unit, qualifier, is_partial, as_of,
    source_id, method,
    CASE WHEN evidence_row IS NULL THEN evidence ELSE evidence || ' ' || evidence_row END AS evidence, note, flags
FROM observation_history
WHERE valid_to IS NULL;
