-- Candidate figures proposed from articles that no pipeline declares, waiting for a person's review.
-- Nothing here is an observation: `octracker review accept ID` moves one into observation_history
-- (method curated), `octracker review reject ID` marks it rejected. Rows are never deleted.
CREATE TABLE candidates (
    -- Stable per source and reading: the same article ingested twice proposes the same ids.
    candidate_id VARCHAR NOT NULL,
    source_id VARCHAR NOT NULL,
    number DOUBLE NOT NULL,
    -- The number as the sentence writes it ("1,461", "nine").
    raw VARCHAR NOT NULL,
    unit VARCHAR,
    year INTEGER,
    as_of DATE,
    is_partial BOOLEAN NOT NULL,
    indicator_id VARCHAR,
    geo VARCHAR,
    qualifier VARCHAR NOT NULL,
    sentence VARCHAR NOT NULL,
    line_no INTEGER,
    confidence DOUBLE NOT NULL,
    -- pending / accepted / rejected
    status VARCHAR NOT NULL,
    proposed_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL,
    decided_at TIMESTAMP,
    reason VARCHAR
);
