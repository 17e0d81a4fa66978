-- Alerts: the rules (data, synced from schemas/alert_rules.toml every run), the outbox that remembers what
-- each alert last told the webhooks, the events (immutable message bodies) and their deliveries.
-- Webhooks are identified by a hash of their URL: the URL itself (it often carries a token) is never stored.

CREATE TABLE alert_rules (
    -- One row per severity tier of a rule; the highest tier whose threshold is met wins.
    rule VARCHAR NOT NULL,
    check_name VARCHAR NOT NULL,       -- yoy_change / edition_change / record / source_conflict / stale_series
    severity VARCHAR NOT NULL,         -- info / warning / critical
    threshold DOUBLE NOT NULL,
    movement VARCHAR NOT NULL,         -- bad (the catalog direction; neutral = either) / up / down / either
    frequency VARCHAR,                 -- only series of this catalog frequency (NULL: any)
    pillar VARCHAR,                    -- only indicators of this group or aggregate (NULL: any)
    except_pillar VARCHAR,             -- never indicators of this group or aggregate
    min_history INTEGER,               -- earlier values a finding needs (record)
    description VARCHAR NOT NULL,
    action VARCHAR NOT NULL            -- what a person should do next; ends every message
);

CREATE TABLE alert_outbox (
    -- What the webhooks were last told about each alert (one row per fingerprint).
    fingerprint VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    indicator_id VARCHAR NOT NULL,
    geo VARCHAR NOT NULL,
    year INTEGER,
    status VARCHAR NOT NULL,           -- open / resolved
    version INTEGER NOT NULL,          -- of the last event; +1 per event
    content_hash VARCHAR NOT NULL,     -- of the alert content the last event carried
    last_event_id VARCHAR NOT NULL,
    alert_json VARCHAR NOT NULL,       -- the last event's payload, to build the resolved event from
    opened_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE alert_events (
    -- Every alert.opened / alert.changed / alert.resolved event, with the exact body sent to every webhook.
    event_id VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    event_type VARCHAR NOT NULL,
    payload VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE alert_deliveries (
    -- One row per event x webhook. webhook_id (the `webhook-id` header) is stored before the first send and
    -- reused on every retry, so a receiver that has seen it can drop a repeat.
    event_id VARCHAR NOT NULL,
    webhook VARCHAR NOT NULL,          -- hash of the webhook URL
    webhook_label VARCHAR NOT NULL,    -- the redacted URL (scheme, host, port) for people
    webhook_id VARCHAR NOT NULL,
    status VARCHAR NOT NULL,           -- pending / sending / delivered / rejected
    attempts INTEGER NOT NULL,         -- HTTP requests made so far
    next_attempt_at TIMESTAMP,         -- not before (Retry-After or backoff); NULL: at the next send
    last_attempt_at TIMESTAMP,
    last_status INTEGER,               -- HTTP status of the last response (NULL: none, e.g. connection refused)
    last_error VARCHAR,                -- redacted: never the URL
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP
);
