-- observations: the current value per (indicator, geo, period, source).
-- Grain: one row per natural key whose latest version is still valid (valid_to IS NULL).
-- Inputs: history_in (observation_history). A value read from a row of a large table cites it by reference:
-- `evidence` is then `<file> (sha256 <hex>) row <n>` (`line <n>` for a CSV), and `octracker evidence` prints that row.
-- observations_in(series_ids): the same for the series of those ids only (a list; NULL: all; see history_in), with
-- each value's series_id (see series_keys), which the views and checks built on it join and group on.
CREATE OR REPLACE MACRO observations_in(series_ids) AS TABLE
SELECT
    indicator_id, geo, period_start, period_end, year, value, unit, qualifier, is_partial, as_of,
    source_id, method,
    cited_evidence(evidence, evidence_row) AS evidence, note, flags,
    series_id
FROM history_in(series_ids)
WHERE valid_to IS NULL;

CREATE OR REPLACE VIEW observations AS
SELECT * EXCLUDE (series_id) FROM observations_in(NULL);
