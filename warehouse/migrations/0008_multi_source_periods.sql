-- Periods stated by several sources: every (indicator, geo, period) that two or more sources state now.
-- `series` ranks sources only for these periods; every other current observation is its period's only value.
-- Without this list, `series` ranked every row of the warehouse at each query (ten million rows: seconds).
-- The writers of observation_history keep it in step, in the transaction that changes which sources state a
-- period (octracker.history); a revised value changes nothing here. Filled once from the current rows.
CREATE TABLE multi_source_periods (
    indicator_id VARCHAR NOT NULL,
    geo VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL
);

INSERT INTO multi_source_periods
SELECT indicator_id, geo, period_start, period_end
FROM observation_history
WHERE valid_to IS NULL AND period_start IS NOT NULL AND period_end IS NOT NULL
GROUP BY indicator_id, geo, period_start, period_end
HAVING COUNT(*) > 1;
