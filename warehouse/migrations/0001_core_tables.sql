-- Core tables: the indicator catalog, sources, the bitemporal observation history, runs and quarantine.
-- No primary keys or indexes: correctness never relies on them, so the same DDL runs on DuckLake.

CREATE TABLE indicators (
    indicator_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    direction VARCHAR NOT NULL,
    frequency VARCHAR NOT NULL,
    description VARCHAR,
    min_value DOUBLE,
    max_value DOUBLE,
    indicator_group VARCHAR,
    aggregate_of VARCHAR
);

CREATE TABLE sources (
    source_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    title VARCHAR,
    publisher VARCHAR,
    published_on DATE,
    -- day / month / year / unknown: how much of published_on the source actually states.
    published_precision VARCHAR NOT NULL,
    url VARCHAR,
    licence VARCHAR,
    sha256 VARCHAR NOT NULL,
    retrieved_at TIMESTAMP NOT NULL,
    pipeline VARCHAR NOT NULL,
    precedence INTEGER NOT NULL,
    file_name VARCHAR
);

CREATE TABLE observation_history (
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
    source_id VARCHAR NOT NULL,
    method VARCHAR NOT NULL,
    -- A long text, unique per row: ZSTD writes it faster than DuckDB's default (DICT_FSST) and smaller
    -- (benchmarks/README.md); a storage hint for a warehouse file only (see FILE_ONLY_SQL in warehouse.py).
    evidence VARCHAR NOT NULL /* file: USING COMPRESSION zstd */,
    note VARCHAR,
    pipeline VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    valid_from TIMESTAMP NOT NULL,
    valid_to TIMESTAMP
);

CREATE TABLE runs (
    run_id VARCHAR NOT NULL,
    pipeline VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,
    rows_new BIGINT,
    rows_revised BIGINT,
    rows_unchanged BIGINT,
    rows_retracted BIGINT,
    rows_quarantined BIGINT,
    error VARCHAR,
    trigger VARCHAR
);

CREATE TABLE quarantine (
    run_id VARCHAR NOT NULL,
    pipeline VARCHAR NOT NULL,
    source_id VARCHAR,
    reason VARCHAR NOT NULL,
    payload VARCHAR,
    file_name VARCHAR,
    line_no INTEGER,
    check_name VARCHAR,
    quarantined_at TIMESTAMP NOT NULL
);
