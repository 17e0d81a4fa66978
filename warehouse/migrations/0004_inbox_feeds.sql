-- Later updates: what the inbox has received, and each HTTP feed's state for conditional requests.
-- No primary keys: the engine looks rows up itself, so the same DDL runs on DuckLake.

-- One row per inbox file handled: loaded, unchanged (seen before) or refused. `kept_at` is where the
-- file now lives, relative to the inbox (archive/… or quarantine/…); files are never deleted.
CREATE TABLE inbox_files (
    run_id VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    sha256 VARCHAR,
    -- Hash of the effective metadata (sidecar with ingest flags): the same bytes with other metadata
    -- are another file.
    meta_sha256 VARCHAR NOT NULL,
    kind VARCHAR,
    source_id VARCHAR,
    status VARCHAR NOT NULL,
    reason VARCHAR,
    kept_at VARCHAR,
    received_at TIMESTAMP NOT NULL
);

-- One row per feed pipeline: the validators and content hash of the last content loaded from it.
CREATE TABLE feed_state (
    pipeline VARCHAR NOT NULL,
    -- Redacted (no credentials, no query): state for another url is never sent.
    url VARCHAR NOT NULL,
    etag VARCHAR,
    last_modified VARCHAR,
    sha256 VARCHAR,
    http_status INTEGER,
    checked_at TIMESTAMP NOT NULL,
    changed_at TIMESTAMP
);
