-- alert_findings: what each alert check sees in the data, before rules decide what is an alert.
-- Grain: one row per (check_name, indicator_id, geo, period) the check has a measure for:
--   yoy_change      the year-over-year change of each annual series' latest year, when comparable;
--                   measure = pct_change. A year to date with unknown as_of is skipped for the year before it
--                   (it says nothing about the pace); a latest year after a gap or stated as a bound is no change.
--   edition_change  the latest change between index editions of each series; measure = change (points)
--   record          the latest value of each series against every earlier full-year point;
--                   measure = 1 (above all: a record high), -1 (below all: a record low) or 0; history = how
--                   many earlier values. A year-to-date count already above the record is a record high
--                   (raw, not its pace); a record low needs a full year.
--   source_conflict each row of source_conflicts; measure = spread as a percent of the larger value
--   stale_series    the latest value of each series; measure = months (of 30.4375 days) from covered_to
--                   (period end, or as_of for a year to date) to alert_clock.today
--   outlier         the latest value of each series against the earlier points of the same period length:
--                   measure = the modified z-score 0.6745 * (value - median) / MAD (median absolute deviation);
--                   none when MAD is 0; history = how many earlier points. prev_value is the median.
--   revision        a current value that its source's latest update revised: measure = 100 * (new - old) / |old|
--                   (percent; NULL when old is 0); prev_value is the old value; as_of and detail carry the
--                   publication dates of the old and the new value (the source's published_on when each was
--                   loaded; the load date when the source states none).
-- Breaks in series (publisher flag `b`): no point before a break is compared with one from it on (record,
-- outlier), and a value that starts a new series is never an outlier or a record.
-- Inputs: yoy_changes_among, edition_changes_among, series_in, source_conflicts_in, observations_in, alert_clock,
--         stored_versions_in, series_keys, loads, observation_versions, source_versions, indicators, followed_geos.
-- alert_findings_in(series_ids, geos, indicator_ids, places) computes them for the series of those ids (a list of
-- series_keys' ids; NULL: all) and of those geos and indicators only (each a list; NULL: all), within those places
-- (see series_among): every check reads one series at a time, but a revision, which is about the source's latest
-- update. The ids reach the scans of the versions (see stored_versions_in); the lists and places filter the series
-- read. The writer asks for every followed series by the places of alert_places, for a few series a write touched by
-- their ids, for many by their geos and indicators. alert_findings is alert_findings_in(NULL, the followed geos, NULL,
-- NULL): the same findings (the ten thousand geos of a neighbourhood table are looked up in a hash table, see
-- series_among).
-- The writer stores these rows in stored_alert_findings with the data they come from, computing only the series a
-- write touched, and trend_alerts reads them there (computing every check took 0.2-0.3 s per query on the bundled
-- data, seconds on ten million rows); query this view for the findings computed now.
-- Only the series trend alerts can be about are checked: indicators of the catalog (trend_alerts names no other),
-- in the places alerts follow (alert_places; BE covers BE-BRU and BEANR; none listed: every place). The
-- whole-world tables (the index workbook, UNODC, publishers' native series) are loaded for ranks and comparison,
-- and checking each of their series for nothing cost most of every alert query (see followed_geos).
-- Only the latest change of a series is a finding: older changes stay in yoy_changes / edition_changes,
-- and an alert describes the current state, so it resolves when a newer value arrives.
-- `provisional` says which of the values a finding cites the publisher marks provisional (flag `p`), e.g.
-- '2024 value is'; NULL when none. (A change across a break is not comparable in yoy_changes and edition_changes,
-- so neither check has a finding across it.)
-- alert_findings_among(series_ids, geos, indicator_ids, places, annual, biennial, disputed) is the same with three
-- constants that leave out checks that can have no finding among the series: `annual` false when none is of an annual
-- indicator (yoy_change), `biennial` false when none is of a biennial one (edition_change), `disputed` false when none
-- is in multi_source_periods (source_conflict). The writer tells them of the series a write touched, a few at once or
-- many in parts (see octracker.store.findings): the optimizer drops a check left out before most of its planning, and
-- it never runs (planning the checks is half of computing the findings of a small change's 2 series: of a monthly
-- indicator, 44 ms with the three checks, 31 ms without; the first load of a CBS-like table's 500,000 annual series,
-- none biennial or in multi_source_periods, 14.9-15.1 s -> 14.0-14.1 s).
CREATE OR REPLACE MACRO alert_findings_among(series_ids, geos, indicator_ids, places, annual, biennial, disputed) AS TABLE
-- The series checked, the changes and the conflicts are read by several checks: each is computed once per query
-- (MATERIALIZED), not once per reference (each reference of a view is also planned anew).
-- "Latest per series" is the row of the series' highest year, found with a MAX per series and a join: a
-- window ordering every row of every series cost as much again as the series themselves.
-- The checks of one series join, group and partition on its series_id (series_keys), not on its text key: the series
-- checked are found once in series_keys, and every value carries only the columns the checks read. Keyed by
-- (indicator_id, geo), with the evidence, method and unit carried along and the record and outlier checks each
-- pairing every value with its series' latest, every finding of a 3M-row table (150,000 series) took 7.2-8.1 s of
-- CPU and 2.1 GiB; 3.5-3.7 s and 1.5 GiB so (2 GB memory limit).
WITH checked AS MATERIALIZED (
    -- The series checked, by id: the catalog's indicators within the scope, matched once per series (not per value),
    -- of the ids asked for only (see series_keys_in).
    SELECT k.series_id, k.indicator_id, k.geo
    FROM series_keys_in(series_ids) AS k
    SEMI JOIN indicators AS i ON i.indicator_id = k.indicator_id
    WHERE series_among(k.geo, k.indicator_id, geos, indicator_ids, places)
),
current_series AS MATERIALIZED (
    -- Only the columns the checks read (no finding carries the evidence, the method or the unit), and the series by
    -- its series_id alone: the checks of one series join, group and partition on it, an integer, and the few values
    -- a finding cites get their text key from `checked`.
    SELECT s.series_id, s.year, s.period_start, s.period_end, s.value, s.qualifier, s.is_partial, s.as_of, s.source_id,
           s.flags
    FROM series_in(series_ids) AS s
    SEMI JOIN checked AS c ON c.series_id = s.series_id
),
conflicts AS MATERIALIZED (
    SELECT c.*, k.series_id
    FROM source_conflicts_in(series_ids) AS c
    JOIN checked AS k ON k.indicator_id = c.indicator_id AND k.geo = c.geo
    WHERE disputed
),
latest_yoy AS MATERIALIZED (
    -- The latest change of each series that can be judged is its finding; only the series checked here are computed.
    SELECT * FROM yoy_changes_among(series_ids, geos, indicator_ids, places, true)
    WHERE annual AND indicator_id IN (SELECT indicator_id FROM indicators)
),
editions AS MATERIALIZED (
    -- Every edition with one before it: the latest of a series is its finding only when comparable (no break).
    -- Only the series checked here are computed (and every index indicator is in the catalog).
    SELECT * FROM edition_changes_among(series_ids, geos, indicator_ids, places) WHERE biennial AND prev_year IS NOT NULL
),
latest_edition AS (
    SELECT e.*
    FROM editions AS e
    JOIN (SELECT indicator_id, geo, MAX(year) AS year FROM editions GROUP BY indicator_id, geo) AS m
      USING (indicator_id, geo, year)
),
latest_value AS MATERIALIZED (
    -- With where the series starts anew (its latest break: the publisher's flag `b`), from the same pass.
    SELECT l.*, k.indicator_id, k.geo
    FROM (
        SELECT s.*, m.break_start
        FROM current_series AS s
        JOIN (SELECT series_id, MAX(year) AS year, MAX(period_start) FILTER (WHERE contains(flags, 'b')) AS break_start
              FROM current_series
              GROUP BY series_id) AS m
          USING (series_id, year)
        QUALIFY ROW_NUMBER() OVER (
            PARTITION BY s.series_id ORDER BY s.is_partial, s.as_of DESC NULLS LAST, s.period_end DESC
        ) = 1
    ) AS l
    JOIN checked AS k USING (series_id)
),
earlier AS MATERIALIZED (
    -- What the record and outlier checks compare the latest value with, in one pass over the series' earlier points
    -- (only points, from the last break on, and none when the latest value starts it):
    --   record: every earlier full year's point: how many, the highest and the lowest, and the latest year holding
    --   each (the record a new one breaks);
    --   outlier: the earlier points like the latest one (periods of the same length, give or take three days: months
    --   with months, years with years, a year to date with the same months of earlier years): how many, their median
    --   and MAD.
    -- The latest values are the join's small side (one row per series), each series' points probe them.
    SELECT
        series_id,
        COUNT(*) FILTER (WHERE before) AS n,
        MAX(value) FILTER (WHERE before) AS high,
        MIN(value) FILTER (WHERE before) AS low,
        arg_max(year, (value, year)) FILTER (WHERE before) AS high_year,
        arg_min(year, (value, -year)) FILTER (WHERE before) AS low_year,
        COUNT(*) FILTER (WHERE alike) AS n_alike,
        median(value) FILTER (WHERE alike) AS median_value,
        mad(value) FILTER (WHERE alike) AS mad_value
    FROM (
        SELECT
            l.series_id, s.year, s.value,
            s.year < l.year AND NOT s.is_partial AS before,
            s.period_end < l.period_start
            AND ABS(date_diff('day', s.period_start, s.period_end) - date_diff('day', l.period_start, l.period_end)) <= 3
                AS alike
        FROM latest_value AS l
        JOIN current_series AS s ON s.series_id = l.series_id
        WHERE s.qualifier IN ('exact', 'approx')
          AND (l.break_start IS NULL OR (s.period_start >= l.break_start AND l.period_start > l.break_start))
    )
    GROUP BY series_id
),
checked_loads AS MATERIALIZED (
    -- The latest load of each source of the current versions checked: the loads' own dates, of the few loads those
    -- versions hold (found without joining every version to its load). The ids tested in the subquery, once (they may
    -- be a query's list: see stored_versions_in).
    SELECT l.source_id, MAX(l.valid_from) AS valid_from
    FROM loads AS l
    WHERE l.load_id IN (
        SELECT DISTINCT load_id FROM observation_versions WHERE series_ids IS NULL AND valid_to IS NULL
        UNION ALL
        SELECT DISTINCT load_id FROM observation_versions
        WHERE valid_to IS NULL AND series_id IN (SELECT unnest(series_ids) WHERE series_ids IS NOT NULL)
    )
    GROUP BY l.source_id
),
latest_updates AS MATERIALIZED (
    -- Each source's latest load of a current version, of any series: the latest load of the current versions
    -- checked here, unless a later load of their source holds current versions of other series, found among those
    -- later loads alone (usually none: the load that touched these series is the latest). Every current version's
    -- load read anew made a small change's findings read all ten million versions.
    SELECT source_id, MAX(valid_from) AS updated_at
    FROM (
        SELECT source_id, valid_from FROM checked_loads
        UNION ALL
        SELECT DISTINCT l.source_id, l.valid_from
        FROM observation_versions AS o
        JOIN (SELECT l.load_id, l.source_id, l.valid_from
              FROM loads AS l JOIN checked_loads AS c ON c.source_id = l.source_id
              WHERE l.valid_from > c.valid_from) AS l ON l.load_id = o.load_id
        WHERE o.valid_to IS NULL
    )
    GROUP BY source_id
),
updated AS MATERIALIZED (
    -- The current values checked that their source's latest update loaded, found before they meet the versions they
    -- replaced: joined with those as they came, every current version of the series checked went into the join's
    -- hash table (1.8M of a 10M-row table's daily edition, where 100,645 pair). Found by the ids of those loads,
    -- before the join with them (see versions_in): the scan skips the row groups of earlier loads (that edition's
    -- 91,614 series, in two parts: each read the 1M current versions of its series and joined them to their loads).
    -- The columns as stored_versions reads them (the load's usual qualifier in place of a NULL).
    SELECT v.series_id, v.year, v.period_start, v.period_end, v.value, COALESCE(v.qualifier, l.qualifier) AS qualifier,
           v.is_partial, v.flags, l.source_id, l.valid_from
    FROM versions_in(series_ids) AS v
    JOIN loads AS l USING (load_id)
    WHERE v.valid_to IS NULL
      AND v.load_id IN (
          SELECT l.load_id
          FROM loads AS l JOIN latest_updates AS u ON u.source_id = l.source_id AND u.updated_at = l.valid_from
      )
),
revisions AS MATERIALIZED (
    -- Current values loaded by their source's latest update, and the version that update replaced: the versions are
    -- paired by series id, and the series checked give the text key of the few that pair.
    SELECT k.indicator_id, k.geo, v.year, v.period_start, v.period_end, v.value, v.qualifier, v.is_partial,
           v.flags, v.source_id, v.valid_from AS revised_at, p.value AS old_value, p.valid_from AS old_loaded_at
    FROM updated AS v
    JOIN checked AS k ON k.series_id = v.series_id
    JOIN stored_versions_in(series_ids) AS p
      ON p.valid_to = v.valid_from AND p.source_id = v.source_id AND p.series_id = v.series_id
     AND p.period_start IS NOT DISTINCT FROM v.period_start AND p.period_end IS NOT DISTINCT FROM v.period_end
    -- (valid_to IS NOT NULL, implied, is a filter the scan applies: the closed versions only meet the join.)
    WHERE p.valid_to IS NOT NULL AND p.valid_to > p.valid_from AND p.value <> v.value
),
dated_revisions AS (
    -- Each value's publication date: the source's published_on as recorded when the value was loaded.
    SELECT r.*, o.published_on AS old_published_on, n.published_on AS new_published_on
    FROM revisions AS r
    ASOF LEFT JOIN source_versions AS o ON o.source_id = r.source_id AND r.old_loaded_at >= o.retrieved_at
    ASOF LEFT JOIN source_versions AS n ON n.source_id = r.source_id AND r.revised_at >= n.retrieved_at
),
records AS (
    -- The latest values above (or below) every earlier full year, with the record they break: the latest year
    -- holding the earlier high (or low).
    SELECT
        r.*,
        CASE r.sign WHEN 1 THEN r.high_year ELSE r.low_year END AS prev_year,
        CASE r.sign WHEN 1 THEN r.high ELSE r.low END AS prev_value
    FROM (
        SELECT
            l.*,
            e.n AS history,
            CASE
                WHEN l.value > e.high AND l.qualifier IN ('exact', 'approx', 'lower_bound') THEN 1
                WHEN l.value < e.low AND NOT l.is_partial AND l.qualifier IN ('exact', 'approx', 'upper_bound') THEN -1
                ELSE 0
            END AS sign,
            e.high, e.low, e.high_year, e.low_year
        FROM latest_value AS l
        JOIN earlier AS e USING (series_id)
        WHERE e.n > 0
    ) AS r
    WHERE r.sign <> 0
),
conflict_values AS (
    SELECT
        c.indicator_id, c.geo, c.period_start, c.period_end,
        string_agg(
            CASE WHEN o.value = ROUND(o.value) THEN printf('%d', CAST(o.value AS BIGINT))
                 ELSE printf('%.2f', o.value) END
            || ' (' || o.source_id || ')', ', ' ORDER BY o.source_id
        ) AS detail
    FROM conflicts AS c
    JOIN observations_in(series_ids) AS o
      ON o.indicator_id = c.indicator_id AND o.geo = c.geo
     AND o.period_start = c.period_start AND o.period_end = c.period_end
     AND o.qualifier IN ('exact', 'approx')
    WHERE series_among(o.geo, o.indicator_id, geos, indicator_ids, places)
    GROUP BY ALL
)
SELECT
    'yoy_change' AS check_name, indicator_id, geo, year, period_start, period_end,
    value, qualifier, is_partial, as_of, basis, annualized_value,
    prev_year, prev_value, change, pct_change,
    pct_change AS measure, 1 AS history, CAST(NULL AS DATE) AS covered_to,
    CASE WHEN prev_source_id IS NULL OR prev_source_id = source_id THEN [source_id]
         ELSE [source_id, prev_source_id] END AS source_ids,
    CAST(NULL AS VARCHAR) AS detail,
    CASE WHEN flags LIKE '%p%' AND prev_flags LIKE '%p%' THEN prev_year || ' and ' || year || ' values are'
         WHEN flags LIKE '%p%' THEN year || ' value is'
         WHEN prev_flags LIKE '%p%' THEN prev_year || ' value is' END AS provisional
FROM latest_yoy
WHERE comparable
UNION ALL BY NAME
SELECT
    'edition_change' AS check_name, indicator_id, geo, year, period_start, period_end,
    value, 'exact' AS qualifier, false AS is_partial, CAST(NULL AS DATE) AS as_of, 'edition' AS basis,
    CAST(NULL AS DOUBLE) AS annualized_value,
    prev_year, prev_value, change, CASE WHEN prev_value <> 0 THEN 100 * change / prev_value END AS pct_change,
    change AS measure, 1 AS history, NULL AS covered_to,
    CASE WHEN prev_source_id IS NULL OR prev_source_id = source_id THEN [source_id]
         ELSE [source_id, prev_source_id] END AS source_ids,
    printf('%+.2f', change_per_year) AS detail,
    CASE WHEN flags LIKE '%p%' AND prev_flags LIKE '%p%' THEN prev_year || ' and ' || year || ' values are'
         WHEN flags LIKE '%p%' THEN year || ' value is'
         WHEN prev_flags LIKE '%p%' THEN prev_year || ' value is' END AS provisional
FROM latest_edition
WHERE comparable
UNION ALL BY NAME
SELECT
    'record' AS check_name, r.indicator_id, r.geo, r.year, r.period_start, r.period_end,
    r.value, r.qualifier, r.is_partial, r.as_of, NULL AS basis, NULL AS annualized_value,
    r.prev_year, r.prev_value, r.value - r.prev_value AS change,
    CASE WHEN r.prev_value <> 0 THEN 100 * (r.value - r.prev_value) / r.prev_value END AS pct_change,
    r.sign AS measure, r.history, NULL AS covered_to,
    [r.source_id] AS source_ids,
    CASE r.sign WHEN 1 THEN 'high' WHEN -1 THEN 'low' END AS detail,
    CASE WHEN r.flags LIKE '%p%' THEN r.year || ' value is' END AS provisional
FROM records AS r
UNION ALL BY NAME
SELECT
    'source_conflict' AS check_name, c.indicator_id, c.geo, c.year, c.period_start, c.period_end,
    s.value, s.qualifier, s.is_partial, s.as_of, NULL AS basis, NULL AS annualized_value,
    NULL AS prev_year, NULL AS prev_value, c.spread AS change, NULL AS pct_change,
    100 * c.spread / GREATEST(ABS(list_max(c."values")), ABS(list_min(c."values"))) AS measure,
    c.n_sources AS history, NULL AS covered_to,
    c.source_ids, v.detail,
    CASE WHEN s.flags LIKE '%p%' THEN COALESCE(CAST(c.year AS VARCHAR), 'period') || ' value is' END AS provisional
FROM conflicts AS c
JOIN conflict_values AS v USING (indicator_id, geo, period_start, period_end)
-- The series' value of the conflicting periods only (joined with every series value, it built a hash table of
-- ten million rows even when nothing conflicts).
LEFT JOIN (
    SELECT * FROM current_series SEMI JOIN conflicts USING (series_id, period_start, period_end)
) AS s USING (series_id, period_start, period_end)
UNION ALL BY NAME
SELECT
    'stale_series' AS check_name, l.indicator_id, l.geo, l.year, l.period_start, l.period_end,
    l.value, l.qualifier, l.is_partial, l.as_of, NULL AS basis, NULL AS annualized_value,
    NULL AS prev_year, NULL AS prev_value, NULL AS change, NULL AS pct_change,
    stale_months(LEAST(l.period_end, COALESCE(l.as_of, l.period_end)), k.today) AS measure,
    1 AS history, LEAST(l.period_end, COALESCE(l.as_of, l.period_end)) AS covered_to,
    [l.source_id] AS source_ids, NULL AS detail,
    CASE WHEN l.flags LIKE '%p%' THEN l.year || ' value is' END AS provisional
FROM latest_value AS l
CROSS JOIN alert_clock AS k
UNION ALL BY NAME
SELECT
    'outlier' AS check_name, l.indicator_id, l.geo, l.year, l.period_start, l.period_end,
    l.value, l.qualifier, l.is_partial, l.as_of, NULL AS basis, NULL AS annualized_value,
    NULL AS prev_year, d.median_value AS prev_value, l.value - d.median_value AS change,
    CASE WHEN d.median_value <> 0 THEN 100 * (l.value - d.median_value) / ABS(d.median_value) END AS pct_change,
    0.6745 * (l.value - d.median_value) / d.mad_value AS measure, d.n_alike AS history, NULL AS covered_to,
    [l.source_id] AS source_ids, printf('%.1f', 0.6745 * (l.value - d.median_value) / d.mad_value) AS detail,
    CASE WHEN l.flags LIKE '%p%' THEN COALESCE(CAST(l.year AS VARCHAR), 'period') || ' value is' END AS provisional
FROM latest_value AS l
JOIN earlier AS d USING (series_id)
WHERE l.qualifier IN ('exact', 'approx') AND d.mad_value > 0
UNION ALL BY NAME
SELECT
    'revision' AS check_name, r.indicator_id, r.geo, r.year, r.period_start, r.period_end,
    r.value, r.qualifier, r.is_partial, NULL AS as_of, NULL AS basis, NULL AS annualized_value,
    NULL AS prev_year, r.old_value AS prev_value, r.value - r.old_value AS change,
    CASE WHEN r.old_value <> 0 THEN 100 * (r.value - r.old_value) / ABS(r.old_value) END AS pct_change,
    CASE WHEN r.old_value <> 0 THEN 100 * (r.value - r.old_value) / ABS(r.old_value) END AS measure,
    1 AS history, NULL AS covered_to, [r.source_id] AS source_ids,
    COALESCE('published ' || strftime(r.old_published_on, '%Y-%m-%d'), 'loaded ' || strftime(r.old_loaded_at, '%Y-%m-%d'))
    || '|' || COALESCE('published ' || strftime(r.new_published_on, '%Y-%m-%d'),
                       'loaded ' || strftime(r.revised_at, '%Y-%m-%d')) AS detail,
    CASE WHEN r.flags LIKE '%p%' THEN 'revised ' || COALESCE(CAST(r.year AS VARCHAR), 'period') || ' value is'
         END AS provisional
FROM dated_revisions AS r;

CREATE OR REPLACE MACRO alert_findings_in(series_ids, geos, indicator_ids, places) AS TABLE
SELECT * FROM alert_findings_among(series_ids, geos, indicator_ids, places, true, true, true);

-- The view's rows come in the order of check_name, indicator_id, geo and period_start. The ORDER BY is also what lets a
-- plain `SELECT * FROM alert_findings` return in DuckDB 1.5.5: a result streamed to the client from the UNION ALL
-- above waited forever, every thread idle, once the findings outgrew the client's buffer (a warehouse of 100,000
-- series; duckdb/duckdb#22215, see 75_changes.sql). Sorting the 456,000 findings of a 3M-row table added nothing
-- measurable to computing them (3.9-4.2 s).
CREATE OR REPLACE VIEW alert_findings AS
SELECT * FROM alert_findings_in(NULL, (SELECT COALESCE(list(geo), []) FROM followed_geos), NULL, NULL)
ORDER BY check_name, indicator_id, geo, period_start;
