-- index_ranks: each country's place in a whole-world index table, per index indicator and edition.
-- Grain: one row per (indicator_id, geo, year) that a whole-world index table scores; year is the edition.
-- Inputs: observations, sources (kind, published_on), indicators (frequency), geo_groups (EU27_2020).
-- A whole-world index table is a source of kind `oci_workbook` or `oci_wide`. Each (indicator, edition) is
-- ranked within one table -- the one scoring the most countries, then the newest, then by source_id -- so a
-- profile of two countries is never ranked 1 and 2, and two tables are never mixed in one ranking.
-- rank: 1 = the highest score; ties share the best rank (1, 2, 2, 4). n_geos: countries the table scores.
-- eu_rank: the same among the EU27 members only (NULL for a country outside the EU); eu_median: the median
-- score of the EU27 members the table scores, on every row so any country can be set beside it.
-- Scores are compared as the index prints them (two decimals): float noise never splits a tie.
CREATE OR REPLACE VIEW index_ranks AS
WITH scores AS (
    SELECT o.indicator_id, o.geo, o.year, ROUND(o.value, 2) AS value, o.source_id, s.published_on
    FROM observations AS o
    JOIN sources AS s USING (source_id)
    JOIN indicators AS i USING (indicator_id)
    WHERE s.kind IN ('oci_workbook', 'oci_wide')
      AND i.frequency = 'biennial'
      AND o.year IS NOT NULL
      AND NOT o.is_partial
),
whole_tables AS (
    SELECT indicator_id, year, source_id
    FROM scores
    GROUP BY indicator_id, year, source_id, published_on
    QUALIFY ROW_NUMBER() OVER (
        PARTITION BY indicator_id, year ORDER BY COUNT(*) DESC, published_on DESC NULLS LAST, source_id
    ) = 1
),
ranked AS (
    SELECT
        sc.indicator_id, sc.geo, sc.year, sc.value, sc.source_id,
        eu.geo IS NOT NULL AS in_eu,
        RANK() OVER (PARTITION BY sc.indicator_id, sc.year ORDER BY sc.value DESC) AS rank,
        COUNT(*) OVER (PARTITION BY sc.indicator_id, sc.year) AS n_geos
    FROM scores AS sc
    JOIN whole_tables USING (indicator_id, year, source_id)
    LEFT JOIN (SELECT geo FROM geo_groups WHERE group_id = 'EU27_2020') AS eu USING (geo)
),
eu_medians AS (
    SELECT indicator_id, year, MEDIAN(value) AS eu_median
    FROM ranked
    WHERE in_eu
    GROUP BY indicator_id, year
)
SELECT
    r.indicator_id,
    r.geo,
    r.year,
    r.value,
    r.rank,
    r.n_geos,
    CASE WHEN r.in_eu THEN RANK() OVER (PARTITION BY r.indicator_id, r.year, r.in_eu ORDER BY r.value DESC) END
        AS eu_rank,
    m.eu_median,
    r.source_id
FROM ranked AS r
LEFT JOIN eu_medians AS m USING (indicator_id, year);
