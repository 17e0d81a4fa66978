-- curations: every current curated value, with the claim as its source stated it and the reason.
-- Grain: one row per current observation with method = 'curated' (a figure a spec moved to another
-- geography or indicator, or a candidate accepted in review).
-- Inputs: observation_history.
-- A moved figure's claim is the closed version of the same source, sentence, period and value under
-- another indicator or geography (see octracker.curation); an accepted candidate has no claim.
CREATE OR REPLACE VIEW curations AS
WITH curated AS (
    SELECT * FROM observation_history WHERE valid_to IS NULL AND method = 'curated'
),
claims AS (
    SELECT
        c.indicator_id, c.geo, c.period_start, c.period_end, c.source_id,
        h.indicator_id AS claimed_indicator_id,
        h.geo AS claimed_geo,
        ROW_NUMBER() OVER (
            PARTITION BY c.indicator_id, c.geo, c.period_start, c.period_end, c.source_id
            ORDER BY h.valid_from DESC
        ) AS newest
    FROM curated AS c
    JOIN observation_history AS h
      ON h.source_id = c.source_id
     AND h.evidence = c.evidence
     AND h.value = c.value
     AND h.period_start IS NOT DISTINCT FROM c.period_start
     AND h.period_end IS NOT DISTINCT FROM c.period_end
     AND h.valid_to IS NOT NULL
     AND h.method <> 'curated'
     AND (h.indicator_id <> c.indicator_id OR h.geo <> c.geo)
)
SELECT
    c.indicator_id, c.geo, c.year, c.period_start, c.period_end, c.value, c.unit, c.source_id,
    cl.claimed_indicator_id, cl.claimed_geo, c.note AS reason, c.evidence, c.valid_from AS curated_at
FROM curated AS c
LEFT JOIN (SELECT * FROM claims WHERE newest = 1) AS cl
  ON cl.indicator_id = c.indicator_id AND cl.geo = c.geo AND cl.source_id = c.source_id
 AND cl.period_start IS NOT DISTINCT FROM c.period_start
 AND cl.period_end IS NOT DISTINCT FROM c.period_end;
