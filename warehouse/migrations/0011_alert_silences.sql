-- Silences and Alertmanager: who muted which alert, why and until when; what Alertmanager was last told; and
-- each source's publication dates over time (a revision alert cites the date of the old and of the new value).

CREATE TABLE alert_silences (
    -- One row per `octracker alerts mute`. A silence holds while ends_at is ahead and nobody lifted it
    -- (`octracker alerts unmute` sets lifted_at); rows are kept afterwards, so who muted what stays on record.
    silence_id VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,      -- of the alert (trend_alerts.fingerprint)
    reason VARCHAR NOT NULL,
    created_by VARCHAR NOT NULL,       -- the account that ran the command
    created_at TIMESTAMP NOT NULL,     -- UTC
    ends_at TIMESTAMP NOT NULL,        -- UTC: the alert comes back after this
    lifted_at TIMESTAMP,               -- UTC: unmuted before it ended
    lifted_by VARCHAR
);

CREATE TABLE alertmanager_alerts (
    -- What Alertmanager was last told about each alert (one row per fingerprint). It forgets a firing alert at
    -- the endsAt it was given, so a firing one is posted again before then; an ended one was posted with its
    -- endsAt at the moment it ended.
    fingerprint VARCHAR NOT NULL,
    status VARCHAR NOT NULL,           -- firing / ended
    content_hash VARCHAR NOT NULL,     -- of the alert content last posted
    alert_json VARCHAR NOT NULL,       -- that content, to end exactly the label set that was posted
    starts_at TIMESTAMP NOT NULL,      -- startsAt posted (UTC)
    ends_at TIMESTAMP NOT NULL,        -- endsAt posted (UTC)
    posted_at TIMESTAMP NOT NULL       -- when Alertmanager last accepted it
);

CREATE TABLE source_versions (
    -- One row each time a source's record changed (a new edition, a corrected date): `sources` keeps the
    -- latest only. Written with it (octracker.runs.upsert_source); filled once from the sources known now.
    source_id VARCHAR NOT NULL,
    published_on DATE,
    published_precision VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    retrieved_at TIMESTAMP NOT NULL
);

INSERT INTO source_versions
SELECT source_id, published_on, published_precision, sha256, retrieved_at FROM sources;
