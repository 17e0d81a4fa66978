-- observations: the current value per (indicator, geo, period, source).
-- Grain: one row per natural key whose latest version is still valid (valid_to IS NULL).
-- Inputs: history_in (observation_history). A value read from a row of a large table cites it by reference:
-- `evidence` is then `<file> (sha256 <hex>) row <n>` (`line <n>` for a CSV), and `octracker evidence` prints that row.
-- observations_in(series_ids): the same for the series of those ids only (a list; NULL: all; see history_in).
CREATE OR REPLACE MACRO observations_in(series_ids) AS TABLE
SELECT
    indicator_id, geo, period_start, period_end, year, value, unit, qualifier, is_partial, as_of,
    source_id, method,
    CASE WHEN evidence_row IS NULL THEN evidence ELSE evidence || ' ' || evidence_row END AS evidence, note, flags
FROM history_in(series_ids)
WHERE valid_to IS NULL;

CREATE OR REPLACE VIEW observations AS
SELECT * FROM observations_in(NULL);
