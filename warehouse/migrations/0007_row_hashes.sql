-- Row hashes: a version read from a table row keeps a hash of that row's cells, and a run records the hash of
-- its rules (spec, sidecar, schemas/, engine; everything but the document's bytes). When a new edition of a
-- table is read under the same rules as the last load, a row whose hash is still current is restated as it
-- was and is not parsed, checked or compared again: the cost of a load follows the rows that changed.
ALTER TABLE observation_history ADD COLUMN row_hash BIGINT;
ALTER TABLE runs ADD COLUMN rules_sha256 VARCHAR;
