-- alert_clock: the date alerts are judged against (whether a series is stale): today.
-- Grain: one row.
-- Inputs: none (the current date of the session).
-- A view of its own so every alert query reads the same today, and a test can pin it to a fixed date.
-- stale_months(covered_to, today): the months (of 30.4375 days) from a series' covered_to to today, the measure
-- of the stale_series check; the stored findings' measure is worked out again with it when read.
CREATE OR REPLACE VIEW alert_clock AS
SELECT current_date AS today;

CREATE OR REPLACE MACRO stale_months(covered_to, today) AS date_diff('day', covered_to, today) / 30.4375;
