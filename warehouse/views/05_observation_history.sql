-- observation_history: every version ever loaded, with the values of the load that wrote it.
-- Grain: one row per version of an observation (indicator, geo, period, source), valid from valid_from to valid_to.
-- Inputs: observation_versions, loads (migration 0019: what one load writes alike is stored once, in loads).
-- The columns are those of the table it replaced, in its order. A version that cites a table row by reference
-- stores no evidence of its own: its evidence is the load's citation of the document (`<file> (sha256 <hex>) row`),
-- and evidence_row the row's number.
CREATE OR REPLACE VIEW observation_history AS
SELECT v.indicator_id, v.geo, v.period_start, v.period_end, v.year, v.value, v.unit, v.qualifier, v.is_partial,
       v.as_of, l.source_id, l.method, COALESCE(v.evidence, l.citation) AS evidence, v.note, l.pipeline, l.run_id,
       l.valid_from, v.valid_to, v.row_hash, v.flags, v.evidence_row
FROM observation_versions AS v
JOIN loads AS l USING (load_id);
