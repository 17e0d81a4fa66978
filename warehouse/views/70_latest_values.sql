-- latest_values: the most recent value per indicator and place, with the source it came from.
-- Grain: one row per (indicator_id, geo) that has a series value.
-- Inputs: series, sources, indicators.
-- The latest value is one of the periods ending in the calendar year of the series' last period end, picked as
-- yoy_changes and the alerts pick a year's value: a full period first, then the latest known as-of date (a
-- year to date "as of 10 September" beats one whose as-of date is unknown, even though the unknown one is
-- stored as ending on 31 December), then the latest end. A partial value is marked by is_partial and as_of.
-- The latest end per series is found with a MAX and a join; only the few rows of that year are ranked (a window
-- ordering every row of every series cost ten times as much on ten million rows).
CREATE OR REPLACE VIEW latest_values AS
WITH latest_end AS (
    SELECT indicator_id, geo, MAX(period_end) AS period_end FROM series GROUP BY indicator_id, geo
),
ranked AS (
    SELECT s.*
    FROM series AS s
    JOIN latest_end AS l
      ON s.indicator_id = l.indicator_id AND s.geo = l.geo AND year(s.period_end) = year(l.period_end)
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY s.indicator_id, s.geo
        ORDER BY s.is_partial, s.as_of DESC NULLS LAST, s.period_end DESC, s.period_start DESC
    ) = 1
)
SELECT
    r.indicator_id, i.name AS indicator_name, r.geo, r.year, r.period_start, r.period_end, r.value, r.unit,
    r.qualifier, r.is_partial, r.as_of, r.source_id, src.title AS source_title, src.publisher AS source_publisher,
    src.published_on AS source_published_on,
    src.published_precision AS source_published_precision, src.url AS source_url, r.method, r.evidence, r.n_sources
FROM ranked AS r
JOIN sources AS src USING (source_id)
LEFT JOIN indicators AS i USING (indicator_id);
