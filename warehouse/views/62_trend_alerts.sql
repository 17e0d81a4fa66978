-- trend_alerts: the open alerts: every alert the rules raise (all_trend_alerts) that no silence holds.
-- Grain: one row per (rule, indicator_id, geo, period); fingerprint identifies it across runs.
-- Inputs: all_trend_alerts, active_silences.
-- A muted alert is neither listed, counted nor delivered while its silence holds (see muted_alerts), and is
-- back, as it is then, when the silence ends.
CREATE OR REPLACE VIEW trend_alerts AS
SELECT a.*
FROM all_trend_alerts AS a
WHERE NOT EXISTS (SELECT 1 FROM active_silences AS s WHERE s.fingerprint = a.fingerprint);
