-- Run inputs: each successful run of a spec pipeline records one hash of everything its rows depend on
-- (document bytes, spec, sidecar, schemas/, engine code; see octracker.fingerprints), so a refresh whose
-- inputs are all unchanged skips the pipeline instead of re-reading and re-comparing every row.
ALTER TABLE runs ADD COLUMN input_sha256 VARCHAR;
