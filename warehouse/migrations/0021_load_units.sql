-- A load's usual unit and qualifier: the unit and qualifier of a table's rows are, almost always, one for the whole
-- load (`count`, `exact`), and DuckDB pays for a stored text column per row also when it holds one value (migration
-- 0019). `loads` now holds the load's usual `unit` and `qualifier` (NULL: none); a stored version holds NULL in its
-- `unit` or `qualifier` when it is the load's usual one, and its own text when it is not. Every version has a unit and
-- a qualifier (the canonical model requires both, and the writers refuse a version without), so a NULL in a version
-- always means its load's: stored_versions_in (warehouse/views/04_stored_versions.sql) reads
-- COALESCE(v.unit, l.unit), and observation_history and every view show the same columns as before.
-- The loads and versions already there keep their values: a load's usual ones are NULL, each version holds its own.
-- Both tables move to tables of the new columns by way of a copy (no ALTER or RENAME, see migration 0020), in the
-- order they were stored.
CREATE TABLE loads_0020 AS SELECT * FROM loads ORDER BY rowid;

DROP TABLE loads;

CREATE TABLE loads (
    load_id BIGINT NOT NULL,
    run_id VARCHAR NOT NULL,
    pipeline VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    citation VARCHAR,
    valid_from TIMESTAMP NOT NULL,
    unit VARCHAR,
    qualifier VARCHAR
);

INSERT INTO loads BY NAME SELECT * FROM loads_0020;

DROP TABLE loads_0020;

CREATE TABLE observation_versions_0020 AS SELECT * FROM observation_versions ORDER BY rowid;

DROP TABLE observation_versions;

CREATE TABLE observation_versions (
    series_id BIGINT NOT NULL,
    period_start DATE,
    period_end DATE,
    year INTEGER,
    value DOUBLE NOT NULL,
    -- NULL: the load's usual unit or qualifier (see above).
    unit VARCHAR,
    qualifier VARCHAR,
    is_partial BOOLEAN NOT NULL,
    as_of DATE,
    -- A long text, unique per row: see 0001.
    evidence VARCHAR /* file: USING COMPRESSION zstd */,
    note VARCHAR,
    load_id BIGINT NOT NULL,
    valid_to TIMESTAMP,
    row_hash BIGINT,
    flags VARCHAR,
    evidence_row BIGINT
);

INSERT INTO observation_versions BY NAME SELECT * FROM observation_versions_0020;

DROP TABLE observation_versions_0020;
