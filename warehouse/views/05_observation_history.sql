-- observation_history: every version ever loaded, with the values of the load that wrote it.
-- Grain: one row per version of an observation (indicator, geo, period, source), valid from valid_from to valid_to.
-- Inputs: stored_versions_in (observation_versions and loads: what one load writes alike is stored once, in loads,
-- migration 0019), series_keys (each series' text key, stored once: migration 0020).
-- The columns are those of the table it replaced, in its order. A version that cites a table row by reference
-- stores no evidence of its own: its evidence is the load's citation of the document (`<file> (sha256 <hex>) row`),
-- and evidence_row the row's number. A version's unit and qualifier may be its load's usual ones (migration 0021).
-- series_versions is the same with each version's series_id and version_rowid (see stored_versions), for the writer.
-- history_in(series_ids): observation_history for the series of those ids only (a list; NULL: all), for the alert
-- checks and the views they read (observations_in, series_in, ...): the ids reach the scan of the versions (see
-- stored_versions_in), with each version's series_id (the checks join and group on it, not on the text key).
-- series_keys_in(series_ids): the text keys of the series of those ids only (NULL: every series), which the versions
-- of those series are joined with here, and the findings' series checked there (see alert_findings_in): joined with
-- every series' key, each read of the versions of some series built a hash table of all of them (the 500,000 keys of
-- a 10M-row neighbourhood table), so the findings of a part of its series grew with the table: those of 1,000 series
-- took 425 MiB on a 6M-row table and 640 MiB on a 10M-row one, of 25,000 series 1.1 GiB on the latter (4.8 s); now
-- 210 MiB on either, and 300 MiB (1.5 s).
CREATE OR REPLACE MACRO series_keys_in(series_ids) AS TABLE
SELECT * FROM series_keys WHERE series_ids IS NULL OR series_id IN (SELECT unnest(series_ids));

CREATE OR REPLACE MACRO series_versions_in(series_ids) AS TABLE
SELECT k.indicator_id, k.geo, v.period_start, v.period_end, v.year, v.value, v.unit, v.qualifier, v.is_partial,
       v.as_of, v.source_id, v.method, v.evidence, v.note, v.pipeline, v.run_id, v.valid_from, v.valid_to,
       v.row_hash, v.flags, v.evidence_row, v.series_id, v.version_rowid
FROM stored_versions_in(series_ids) AS v
JOIN series_keys_in(series_ids) AS k USING (series_id);

CREATE OR REPLACE VIEW series_versions AS
SELECT * FROM series_versions_in(NULL);

CREATE OR REPLACE VIEW observation_history AS
SELECT * EXCLUDE (series_id, version_rowid) FROM series_versions;

-- cited_evidence(evidence, evidence_row): a version's evidence as the views that show it print it: a row cited by
-- reference is the load's citation and the row's number (`<file> (sha256 <hex>) row <n>`).
CREATE OR REPLACE MACRO cited_evidence(evidence, evidence_row) AS
    CASE WHEN evidence_row IS NULL THEN evidence ELSE evidence || ' ' || evidence_row END;

CREATE OR REPLACE MACRO history_in(series_ids) AS TABLE
SELECT * EXCLUDE (version_rowid) FROM series_versions_in(series_ids);
