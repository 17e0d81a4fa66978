-- stored_versions: every stored version with what its load holds, by series id, for the writer.
-- Grain: one row per version of an observation (series, period, source), valid from valid_from to valid_to.
-- Inputs: observation_versions, loads (migrations 0019, 0021).
-- The writer finds versions here by series id (migration 0020) and closes or rehashes one by its row id in
-- observation_versions (`version_rowid`), without a second join on its key; observation_history is this view with
-- each series' text key, in the columns analysts know (05_observation_history.sql). A version that cites a table
-- row by reference stores no evidence of its own: its evidence is the load's citation of the document. A version
-- whose unit or qualifier is its load's usual one stores NULL in its place (migration 0021): it is read from the load.
-- stored_versions_in(series_ids): the same for the series of those ids only (a list; NULL: all). The versions are
-- found by their ids before anything is joined to them (every version went through the join with its load first,
-- and a filter on a series' text key after it could not reach the scan). The ids are a semi join, whose keys DuckDB
-- hands the scan (up to `dynamic_or_filter_threshold` of them as a list, more as their least and greatest): its
-- zonemaps skip the row groups that hold none of them, and a series' versions, loaded together, sit in one or two
-- row groups (the findings of 2 series of a 10M-row history: 2 of 82 row groups read, 0.003 s a scan against
-- 0.03 s). A list searched for each row (list_contains) is no filter the scan skips row groups by in DuckDB 1.5, but
-- it filters the rows of those read in the scan, before the join: up to 128 ids are searched so too (100 series in
-- every row group of 10M rows: 0.065 s against 0.09 s for the join alone; 500 cost as much as the join, 2,000
-- half as much again). Only the part for what is given is planned (NULL, a few ids, many): the others are left out as the query
-- is planned. The list may also be a query's (the writer hands the ids of many series so: octracker.store.findings),
-- known only as the query runs: the part for many tests its length in the semi join's subquery, once, where a test
-- beside the join joined the list to each version read (1.8M versions of 91,614 series of a 10M-row table: 1-4 s of
-- CPU per read). The part for a few tests it there too: a query's list is searched for each row only after a join
-- of every version read with the list, so its semi join, empty unless the list is short, must stop the scan first
-- (source_conflicts_in hands such a list, the series of periods several sources state, mostly none: the findings
-- of 2 series of a 10M-row history read all ten million current versions for it, 0.35-0.6 s of CPU against 0.1 s).
-- versions_in(series_ids): those versions as observation_versions stores them (with `version_rowid`), before the
-- join with their loads: a query that also picks them by their load finds them so (a filter on `load_id` reaches
-- the scan, whose zonemaps skip the row groups of other loads; see alert_findings_among's `updated`).
CREATE OR REPLACE MACRO versions_in(series_ids) AS TABLE
SELECT *, rowid AS version_rowid FROM observation_versions WHERE series_ids IS NULL
UNION ALL
SELECT *, rowid AS version_rowid FROM observation_versions
WHERE len(series_ids) <= 128 AND series_id IN (SELECT unnest(series_ids) WHERE len(series_ids) <= 128)
  AND list_contains(series_ids, series_id)
UNION ALL
SELECT *, rowid AS version_rowid FROM observation_versions
WHERE series_id IN (SELECT unnest(series_ids) WHERE len(series_ids) > 128);

CREATE OR REPLACE MACRO stored_versions_in(series_ids) AS TABLE
SELECT v.series_id, v.period_start, v.period_end, v.year, v.value, COALESCE(v.unit, l.unit) AS unit,
       COALESCE(v.qualifier, l.qualifier) AS qualifier, v.is_partial, v.as_of, l.source_id, l.method,
       COALESCE(v.evidence, l.citation) AS evidence, v.note, l.pipeline, l.run_id, l.valid_from, v.valid_to,
       v.row_hash, v.flags, v.evidence_row, v.version_rowid
FROM versions_in(series_ids) AS v
JOIN loads AS l USING (load_id);

CREATE OR REPLACE VIEW stored_versions AS
SELECT * FROM stored_versions_in(NULL);
