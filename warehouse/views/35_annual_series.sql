-- annual_series: the series values of the indicators whose catalog frequency is annual, with a known year, and
-- the calendar-year values of publishers' native series (ids not in the catalog, e.g. estat.sdg_04_20...).
-- Grain: one row per (indicator_id, geo, period_start, period_end), as in series.
-- Inputs: series_in, indicators.
-- What yoy_changes and the alert checks compare, read by yoy_changes_among for the series it is asked about. A
-- native series may mix quarters and years (CBS): only its
-- whole calendar years are annual values. Trend alerts name catalog indicators only (trend_alerts joins
-- indicators), so a native series has year-over-year changes but raises no alert until the catalog maps it.
-- annual_series_in(series_ids): the same for the series of those ids only (a list; NULL: all; see history_in), with
-- each value's series_id (see series_in). Both kinds are read from one scan of the series, whose indicator is looked up
-- in the catalog (a left join): a part for each, one of them an anti join, read the versions twice.
CREATE OR REPLACE MACRO annual_series_in(series_ids) AS TABLE
SELECT s.indicator_id, s.geo, s.year, s.period_start, s.period_end, s.value, s.unit, s.qualifier, s.is_partial,
       s.as_of, s.source_id, s.flags, s.series_id
FROM series_in(series_ids) AS s
LEFT JOIN indicators AS i USING (indicator_id)
WHERE s.year IS NOT NULL
  AND (i.frequency = 'annual'
       OR (i.indicator_id IS NULL
           AND s.period_start = make_date(s.year, 1, 1) AND s.period_end = make_date(s.year, 12, 31)));

CREATE OR REPLACE VIEW annual_series AS
SELECT * EXCLUDE (series_id) FROM annual_series_in(NULL);
