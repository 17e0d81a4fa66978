-- observations_as_of(t): the observations as the warehouse knew them at time t (UTC), revisions and
-- retractions after t undone. Usage: SELECT * FROM observations_as_of(TIMESTAMP '2025-06-01 00:00:00').
-- Grain: one row per (indicator_id, geo, period_start, period_end, source_id) whose version was valid at t.
-- Inputs: observation_history (valid_from, valid_to are when the warehouse learned and replaced a value).
CREATE OR REPLACE MACRO observations_as_of(t) AS TABLE
SELECT
    indicator_id, geo, period_start, period_end, year, value, unit, qualifier, is_partial, as_of,
    source_id, method,
    cited_evidence(evidence, evidence_row) AS evidence,
    note, flags, valid_from, valid_to
FROM observation_history
WHERE valid_from <= CAST(t AS TIMESTAMP)
  AND (valid_to IS NULL OR valid_to > CAST(t AS TIMESTAMP));
