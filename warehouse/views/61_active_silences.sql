-- active_silences: the silences that hold now, one per muted alert (the one that ends last).
-- Grain: one row per fingerprint with a silence that nobody lifted and whose ends_at is still ahead.
-- Inputs: alert_silences (written by `octracker alerts mute` / `unmute`).
-- "Now" is the moment of the query in UTC (the table stores UTC): a silence ends by itself, with no run needed.
CREATE OR REPLACE VIEW active_silences AS
SELECT fingerprint, silence_id, reason, created_by, created_at, ends_at
FROM alert_silences
WHERE lifted_at IS NULL AND ends_at > make_timestamp(epoch_us(now()))
QUALIFY ROW_NUMBER() OVER (PARTITION BY fingerprint ORDER BY ends_at DESC, created_at DESC) = 1;
