-- The history findable by series: each stored version holds an integer series id in place of its series' text key
-- (indicator_id, geo), kept once in `series_keys`. A writer looks up the versions of a few series (a feed of
-- corrections, the alert findings of the series a write changed) by that id: DuckDB keeps a row group's minimum and
-- maximum of an integer whole, where of a text it keeps 8 bytes (`bench_ind_001` and `bench_ind_042` look alike), and
-- ids numbered in the order series first appear in a table are clustered as its rows are, so a look-up of a few
-- series reads few row groups and one integer column where it read two texts of every row.
-- Everything else of a version varies per row or per load (migration 0019): the source, which is part of the key, is
-- the load's. `observation_history` stays a view of the same columns (warehouse/views/04_stored_versions.sql,
-- 05_observation_history.sql); the writers register a series when they first write a version of it
-- (octracker.store.history).
-- Series are numbered here in the order the versions already stored first state them.
CREATE TABLE series_keys (
    series_id BIGINT NOT NULL,
    indicator_id VARCHAR NOT NULL,
    geo VARCHAR NOT NULL
);

INSERT INTO series_keys
SELECT ROW_NUMBER() OVER (ORDER BY first_row), indicator_id, geo
FROM (SELECT indicator_id, geo, MIN(rowid) AS first_row FROM observation_versions GROUP BY indicator_id, geo);

-- The versions move to a table of the new columns by way of a copy (no ALTER or RENAME, which a lake and a
-- transaction that wrote the table before take differently), in the order they were stored.
CREATE TABLE observation_versions_0019 AS
SELECT s.series_id, v.* EXCLUDE (indicator_id, geo)
FROM observation_versions AS v
JOIN series_keys AS s USING (indicator_id, geo)
ORDER BY v.rowid;

DROP TABLE observation_versions;

CREATE TABLE observation_versions (
    series_id BIGINT NOT NULL,
    period_start DATE,
    period_end DATE,
    year INTEGER,
    value DOUBLE NOT NULL,
    unit VARCHAR NOT NULL,
    qualifier VARCHAR NOT NULL,
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

INSERT INTO observation_versions BY NAME SELECT * FROM observation_versions_0019;

DROP TABLE observation_versions_0019;
