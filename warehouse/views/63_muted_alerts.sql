-- muted_alerts: the alerts the rules raise that a silence holds now, with the silence.
-- Grain: one row per muted alert (fingerprint).
-- Inputs: all_trend_alerts, active_silences.
CREATE OR REPLACE VIEW muted_alerts AS
SELECT a.*, s.silence_id, s.reason AS muted_reason, s.created_by AS muted_by, s.created_at AS muted_at,
       s.ends_at AS muted_until
FROM all_trend_alerts AS a
JOIN active_silences AS s USING (fingerprint);
