-- The alert checks' results as of the last write: the rows of the `alert_findings` view, stored by the writer in
-- the same transaction as the data they are computed from (observations, sources, the catalog's indicators,
-- alert_places), so a reader gets them without computing every check (which cost DuckDB 0.2-0.3 s per query).
-- trend_alerts reads this table; only what depends on the day of the query is worked out when read: a stale
-- series' months since covered_to (measured to alert_clock.today) and the silences.
-- Filled when the views are next applied (they are, after this migration), then by every write that changes
-- what the checks read. Its columns are alert_findings' columns.
CREATE TABLE stored_alert_findings (
    check_name VARCHAR NOT NULL,
    indicator_id VARCHAR NOT NULL,
    geo VARCHAR NOT NULL,
    year INTEGER,
    period_start DATE,
    period_end DATE,
    value DOUBLE,
    qualifier VARCHAR,
    is_partial BOOLEAN,
    as_of DATE,
    basis VARCHAR,
    annualized_value DOUBLE,
    prev_year INTEGER,
    prev_value DOUBLE,
    change DOUBLE,
    pct_change DOUBLE,
    measure DOUBLE,
    history BIGINT,
    covered_to DATE,
    source_ids VARCHAR[],
    detail VARCHAR,
    provisional VARCHAR
);
