-- stored_versions: every stored version with what its load holds, by series id, for the writer.
-- Grain: one row per version of an observation (series, period, source), valid from valid_from to valid_to.
-- Inputs: observation_versions, loads (migration 0019).
-- The writer finds versions here by series id (migration 0020) and closes or rehashes one by its row id in
-- observation_versions (`version_rowid`), without a second join on its key; observation_history is this view with
-- each series' text key, in the columns analysts know (05_observation_history.sql). A version that cites a table
-- row by reference stores no evidence of its own: its evidence is the load's citation of the document.
-- stored_versions_in(series_ids): the same for the series of those ids only (a list; NULL: all). The versions are
-- found by their ids before anything is joined to them (every version went through the join with its load first,
-- and a filter on a series' text key after it could not reach the scan). Up to 64 ids are a filter of the scan
-- itself: its zonemaps skip the row groups that hold none of them, and only the rows of those series are read
-- further (100 series of a 10M-row history: 0.18 s, against 0.38 s for the semi join that more ids take, whose ids
-- DuckDB hands the scan only to skip row groups by; but the list is searched id by id for each row, so a longer one
-- costs more than the semi join). Only the part for
-- what is given is planned (NULL, a few ids, many): the others are left out as the query is planned.
CREATE OR REPLACE MACRO stored_versions_in(series_ids) AS TABLE
SELECT v.series_id, v.period_start, v.period_end, v.year, v.value, v.unit, v.qualifier, v.is_partial, v.as_of,
       l.source_id, l.method, COALESCE(v.evidence, l.citation) AS evidence, v.note, l.pipeline, l.run_id,
       l.valid_from, v.valid_to, v.row_hash, v.flags, v.evidence_row, v.version_rowid
FROM (
    SELECT *, rowid AS version_rowid FROM observation_versions WHERE series_ids IS NULL
    UNION ALL
    SELECT *, rowid AS version_rowid FROM observation_versions
    WHERE len(series_ids) <= 64 AND list_contains(series_ids, series_id)
    UNION ALL
    SELECT *, rowid AS version_rowid FROM observation_versions
    WHERE len(series_ids) > 64 AND series_id IN (SELECT unnest(series_ids))
) AS v
JOIN loads AS l USING (load_id);

CREATE OR REPLACE VIEW stored_versions AS
SELECT * FROM stored_versions_in(NULL);
