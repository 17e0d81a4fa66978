-- followed_geos: the places trend alerts are about, as the geos of the series the alert checks read.
-- Grain: one row per geo of a current value of a catalog indicator that alerts follow.
-- Inputs: observation_history (current versions), indicators, alert_places.
-- A geo is followed when it starts with a place listed in alert_places (BE covers BE, BE-BRU and BEANR); with no
-- place listed, every geo is. The whole-world tables (the index workbook, UNODC, Eurostat) are loaded for ranks
-- and comparison: the alert checks read only the series of these geos (joined on geo, which is cheaper than
-- matching every series row against every place). Only the geos of current values of catalog indicators are
-- listed (the checks read nothing else), each matched against the places once.
-- geo_followed(candidate): whether alerts follow the geo `candidate`, the test above for any geo; the writer asks it of the series a
-- write changed, whose geo may have no current value any more (a retracted series still has findings to clear).
CREATE OR REPLACE MACRO geo_followed(candidate) AS
    NOT EXISTS (SELECT 1 FROM alert_places)
    OR EXISTS (SELECT 1 FROM alert_places AS p WHERE starts_with(candidate, p.place));

CREATE OR REPLACE VIEW followed_geos AS
SELECT g.geo
FROM (
    SELECT DISTINCT o.geo
    FROM observation_history AS o
    SEMI JOIN indicators AS i ON i.indicator_id = o.indicator_id
    WHERE o.valid_to IS NULL
) AS g
WHERE geo_followed(g.geo);
