-- changes: what each refresh changed: every value a run added, revised or retracted, with its source.
-- Grain: one row per (version of an observation that became current or stopped being current).
-- Inputs: observation_versions, loads, series_keys (what observation_history is made of), runs.
--   new        a version that opened with no version of the same key (indicator, geo, period, source) closing
--              at that moment: the value was not there before (or had been retracted). old_value is NULL.
--   revised    a version that opened as another of the same key closed (one load replaces it): old_value ->
--              new_value. A version that only restates the value with other evidence, method or note is not a
--              change of value and is left out.
--   retracted  a version that closed with none of the same key opening: its source no longer states it.
--              new_value is NULL; run_id is the run of its pipeline that was going on when it closed.
-- A claim that a curation replaced in the same run it was loaded (opened and closed at once) was never current
-- and is no change. changed_at is when the warehouse learned it (valid_from / valid_to), in UTC. The rows come in
-- the order of changed_at.
-- Shape: the versions opened (new or revised) UNION ALL the versions retracted, under an ORDER BY.
-- * The ORDER BY is what lets a plain `SELECT * FROM changes WHERE ...` return in DuckDB 1.5.5. A query whose
--   result streams to the client (Python's execute, the shell) from a UNION ALL whose first branch has a join
--   defers the second branch's joins until the first branch is done; the first branch stops when the client's
--   buffer is full, and the client reads nothing before every other part of the query is done: it waited forever
--   with every thread idle (a geo or indicator of a 10M-version history, or one run's million rows, unless a sort
--   or GROUP BY above it read the rows first; duckdb/duckdb#22215, fixed in DuckDB 2). Under the sort, the rows go
--   to it instead. It sorts the rows asked for (after the WHERE), on changed_at alone: 0.4 GB more to count the 10M
--   changes of a first load, against 1.2 GB more on every column of the key.
-- * Each part reads the stored tables, joined so that a WHERE on any column reaches the versions it concerns: a
--   geo or indicator_id the series keys (the versions are joined to those series first), a run_id or changed_at
--   the loads of the versions opened. The keys are matched on series_id. closed_versions() (the versions that
--   stopped being current) is a table macro, read afresh where each part uses it: a common table used three times
--   is materialized in memory, every closed version first, and a WHERE on a column of one use reaches no other.
-- * A version is retracted when no version of its key opened as it closed: the versions that could have opened
--   then are those of the loads made at a moment some version closed (a few loads; their versions alone are read),
--   and the run going on then is an ASOF JOIN on the runs of its pipeline. (With a correlated NOT EXISTS, a
--   correlated subquery for the run and a common table of the closed versions, counting the changes of a run that
--   revised 1M of 10M versions took 1.7 s of CPU and 1.0 GB; 0.8 s and 0.35 GB so.)
CREATE OR REPLACE MACRO closed_versions() AS TABLE
SELECT v.series_id, v.period_start, v.period_end, v.year, v.value, l.source_id, l.pipeline, v.valid_to
FROM observation_versions AS v
JOIN loads AS l USING (load_id)
WHERE v.valid_to IS NOT NULL AND v.valid_to > l.valid_from;

-- * unsorted_changes() is the same rows without the ORDER BY, for counting them (under a GROUP BY or an aggregate,
--   which reads every row before any reaches the client): DuckDB keeps the view's sort under a COUNT, and counting
--   the 10M changes of a first load through the view took 547 MiB and 0.7-1.1 s, 140 MiB and 0.2 s so. Its rows
--   read plainly may never come (duckdb/duckdb#22215, above): read them through `changes`.
CREATE OR REPLACE MACRO unsorted_changes() AS TABLE
WITH successors AS (
    -- Versions opened at a moment a version closed: the candidates for replacing one.
    SELECT v.series_id, v.period_start, v.period_end, l.source_id, l.valid_from
    FROM observation_versions AS v
    JOIN (
        SELECT load_id, source_id, valid_from FROM loads
        SEMI JOIN (SELECT DISTINCT valid_to FROM closed_versions()) AS m ON valid_from = m.valid_to
    ) AS l USING (load_id)
    WHERE v.valid_to IS NULL OR v.valid_to > l.valid_from
),
retracted AS (
    SELECT k.indicator_id, k.geo, p.*
    FROM closed_versions() AS p
    JOIN series_keys AS k USING (series_id)
    ANTI JOIN successors AS v
      ON v.valid_from = p.valid_to AND v.series_id = p.series_id AND v.source_id = p.source_id
     AND v.period_start IS NOT DISTINCT FROM p.period_start AND v.period_end IS NOT DISTINCT FROM p.period_end
)
SELECT
    l.run_id,
    l.valid_from AS changed_at,
    CASE WHEN p.series_id IS NULL THEN 'new' ELSE 'revised' END AS change,
    k.indicator_id, k.geo, v.period_start, v.period_end, v.year,
    p.value AS old_value,
    v.value AS new_value,
    l.source_id
FROM observation_versions AS v
JOIN series_keys AS k USING (series_id)
JOIN loads AS l USING (load_id)
LEFT JOIN closed_versions() AS p
  ON p.valid_to = l.valid_from AND p.series_id = v.series_id AND p.source_id = l.source_id
 AND p.period_start IS NOT DISTINCT FROM v.period_start AND p.period_end IS NOT DISTINCT FROM v.period_end
WHERE (v.valid_to IS NULL OR v.valid_to > l.valid_from) AND (p.series_id IS NULL OR p.value IS DISTINCT FROM v.value)
UNION ALL
SELECT
    r.run_id,
    t.valid_to AS changed_at,
    'retracted' AS change,
    t.indicator_id, t.geo, t.period_start, t.period_end, t.year,
    t.value AS old_value,
    CAST(NULL AS DOUBLE) AS new_value,
    t.source_id
FROM retracted AS t
ASOF LEFT JOIN runs AS r ON r.pipeline = t.pipeline AND r.started_at <= t.valid_to;

CREATE OR REPLACE VIEW changes AS
SELECT * FROM unsorted_changes()
ORDER BY changed_at;
