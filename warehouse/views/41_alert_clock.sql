-- alert_clock: the date alerts are judged against (whether a series is stale): today.
-- Grain: one row.
-- Inputs: none (the current date of the session).
-- A view of its own so every alert query reads the same today, and a test can pin it to a fixed date.
CREATE OR REPLACE VIEW alert_clock AS
SELECT current_date AS today;
