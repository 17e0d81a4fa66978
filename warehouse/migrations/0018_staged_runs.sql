-- First loads committed in stages: a large table's first load, read in batches, commits its rows to
-- observation_history in several transactions (so that DuckDB need not hold all it wrote until one commit). A run
-- is listed here from its first stage until its final transaction (the source, the run's end, the alert findings),
-- which removes it. Readers never see a stage: they read the published copy, made after that final transaction. The
-- rows of a run still listed belong to a load that failed or was killed between stages: the writer deletes them
-- on the failure, and every writer deletes them when it starts, before anything reads the history.
CREATE TABLE staged_runs (
    run_id VARCHAR NOT NULL,
    pipeline VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,
    staged_at TIMESTAMP NOT NULL
);
