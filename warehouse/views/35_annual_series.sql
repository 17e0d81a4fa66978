-- annual_series: the series values of the indicators whose catalog frequency is annual, with a known year, and
-- the calendar-year values of publishers' native series (ids not in the catalog, e.g. estat.sdg_04_20...).
-- Grain: one row per (indicator_id, geo, period_start, period_end), as in series.
-- Inputs: series_in, indicators.
-- What yoy_changes and the alert checks compare, read by yoy_changes_among for the series it is asked about. A
-- native series may mix quarters and years (CBS): only its
-- whole calendar years are annual values. Trend alerts name catalog indicators only (trend_alerts joins
-- indicators), so a native series has year-over-year changes but raises no alert until the catalog maps it.
-- annual_series_in(series_ids): the same for the series of those ids only (a list; NULL: all; see history_in).
CREATE OR REPLACE MACRO annual_series_in(series_ids) AS TABLE
SELECT s.indicator_id, s.geo, s.year, s.period_start, s.period_end, s.value, s.unit, s.qualifier, s.is_partial,
       s.as_of, s.source_id, s.flags
FROM series_in(series_ids) AS s
JOIN indicators AS i USING (indicator_id)
WHERE i.frequency = 'annual' AND s.year IS NOT NULL
UNION ALL
SELECT s.indicator_id, s.geo, s.year, s.period_start, s.period_end, s.value, s.unit, s.qualifier, s.is_partial,
       s.as_of, s.source_id, s.flags
FROM series_in(series_ids) AS s
ANTI JOIN indicators AS i USING (indicator_id)
WHERE s.period_start = make_date(s.year, 1, 1) AND s.period_end = make_date(s.year, 12, 31);

CREATE OR REPLACE VIEW annual_series AS
SELECT * FROM annual_series_in(NULL);
