-- A table of loads: what a version shares with every other version one load wrote (the run, its pipeline, when the
-- warehouse learned them, the source, how the values were obtained and, for versions read from the rows of a table,
-- the document they cite) is kept once per load in `loads`, and each stored version holds the load's id. DuckDB pays
-- for every stored text column per row also when it holds one value for the whole load (1.7-2.2 s of CPU per 10M
-- rows each); a version stored these six values per row.
-- `observation_versions` holds the versions; `observation_history` is now a view of the same name and columns as the
-- table it replaces (warehouse/views/05_observation_history.sql), for analysts and for every other view. The writers
-- write the two tables (octracker.store.history).
-- A load is one (run, source, method, cited document): a run that loads several sources, or rows of several
-- methods, writes several. `citation` is the evidence of a version read by reference (`evidence_row` set), and its
-- own `evidence` is then NULL; every other version keeps its sentence or line in its own `evidence`.
-- A load's id is a number the writer derives from its values (octracker.history.load_id); the loads that were
-- already there are numbered here.
CREATE TABLE loads (
    load_id BIGINT NOT NULL,
    run_id VARCHAR NOT NULL,
    pipeline VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    citation VARCHAR,
    valid_from TIMESTAMP NOT NULL
);

INSERT INTO loads
SELECT ROW_NUMBER() OVER (ORDER BY valid_from, run_id, source_id, method, citation), run_id, pipeline, source_id,
       method, citation, valid_from
FROM (
    SELECT DISTINCT run_id, pipeline, source_id, method,
           CASE WHEN evidence_row IS NOT NULL THEN evidence END AS citation, valid_from
    FROM observation_history
);

CREATE TABLE observation_versions (
    indicator_id VARCHAR NOT NULL,
    geo VARCHAR NOT NULL,
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

INSERT INTO observation_versions
SELECT h.indicator_id, h.geo, h.period_start, h.period_end, h.year, h.value, h.unit, h.qualifier, h.is_partial,
       h.as_of, CASE WHEN h.evidence_row IS NULL THEN h.evidence END, h.note, l.load_id, h.valid_to, h.row_hash,
       h.flags, h.evidence_row
FROM observation_history AS h
JOIN loads AS l
  ON l.run_id = h.run_id AND l.pipeline = h.pipeline AND l.source_id = h.source_id AND l.method = h.method
 AND l.valid_from = h.valid_from
 AND l.citation IS NOT DISTINCT FROM CASE WHEN h.evidence_row IS NOT NULL THEN h.evidence END;

DROP TABLE observation_history;
